import { z } from 'zod'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { TestClient } from '../helpers/client.js'
import { startService, type Started } from '../helpers/server.js'

describe('requests and responses (docs/protocol.md A.4)', () => {
  let s: Started
  afterEach(async () => s?.server.close())

  it('a response carries the request event, a new id and the request correlation_id', async () => {
    s = await startService('workflow')
    const c = await TestClient.connect(s.url)
    c.send({ type: 'request', event: 'get_status', id: 'req-1', correlation_id: 'corr-1' })
    const res = await c.next()
    expect(res).toMatchObject({ type: 'response', event: 'get_status', correlation_id: 'corr-1' })
    expect(res.id).not.toBe('req-1')
    await c.close()
  })

  it('without correlation_id the response correlates to the request id; without both, to null', async () => {
    s = await startService('workflow')
    const c = await TestClient.connect(s.url)
    c.send({ type: 'request', event: 'get_status', id: 'req-2' })
    expect((await c.next()).correlation_id).toBe('req-2')
    c.send({ type: 'request', event: 'get_status', id: 'req-3', correlation_id: null })
    expect((await c.next()).correlation_id).toBe('req-3')
    c.send({ type: 'request', event: 'get_status' })
    expect(await c.next()).toMatchObject({ type: 'response', correlation_id: null })
    await c.close()
  })

  it('get_status answers the service status', async () => {
    s = await startService('workflow')
    const c = await TestClient.connect(s.url)
    await c.subscribe('global')
    const res = await c.request('get_status')
    expect(res.data).toMatchObject({ service: 'workflow', status: 'healthy', connections: 1, channels: 1, bridge: inject('redisUrl') ? 'connected' : 'standalone' })
    expect(res.data?.uptime).toBeTypeOf('number')
    await c.close()
  })

  it('an unknown operation → UNKNOWN_REQUEST naming it; a request without event names null', async () => {
    s = await startService('workflow')
    const c = await TestClient.connect(s.url)
    expect(await c.request('launch_rocket')).toMatchObject({ type: 'error', error_code: 'UNKNOWN_REQUEST', error_message: 'Unknown request event: launch_rocket' })
    c.send({ type: 'request', correlation_id: 'none' })
    expect(await c.next()).toMatchObject({ error_code: 'UNKNOWN_REQUEST', error_message: 'Unknown request event: null', correlation_id: 'none' })
    await c.alive()
    await c.close()
  })

  it('a missing or ill-typed parameter → INVALID_PARAMS naming the field', async () => {
    s = await startService('workflow')
    const c = await TestClient.connect(s.url)
    const missing = await c.request('get_workflow_status', {})
    expect(missing).toMatchObject({ type: 'error', error_code: 'INVALID_PARAMS' })
    expect(missing.error_message).toMatch(/^Invalid parameter 'workflow_id': /)
    const wrong = await c.request('get_pool_status', { pool_id: 7 })
    expect(wrong.error_message).toMatch(/^Invalid parameter 'pool_id': .*string/)
    await c.alive()
    await c.close()
  })

  it('pipelined requests are answered in order', async () => {
    s = await startService('workflow')
    const c = await TestClient.connect(s.url)
    for (let i = 0; i < 20; i++) c.send({ type: 'request', event: i % 2 === 0 ? 'get_status' : 'nope', correlation_id: `r${i}` })
    for (let i = 0; i < 20; i++) expect((await c.next()).correlation_id).toBe(`r${i}`)
    await c.close()
  })

  it('an answer that takes time holds back the answers after it, not the pongs nor the events; a history replay still follows its subscribe answer', async () => {
    s = await startService('workflow', { allow_client_publish: true, history: [{ channel: 'workflow:*', size: 50, ttl: 300 }] })
    let release: () => void = () => {}
    const slow = new Promise<void>((resolve) => (release = resolve))
    s.server.requests.register('slow', z.looseObject({}), async () => {
      await slow
      return { status: 'done' }
    })
    const first = s.server.publish('workflow:h', 'workflow.started', { workflow_id: 'h1' })
    const from = (await first).pub.position!
    await s.server.publish('workflow:h', 'workflow.started', { workflow_id: 'h2' })
    // Told (in the turn after) once the subscribe's handler has its answer: the slow one is released only then.
    const requests = s.server.requests
    const run = requests.run.bind(requests)
    let handled: () => void = () => {}
    const subscribeHandled = new Promise<void>((resolve) => (handled = resolve))
    requests.run = (op, data, ctx) => {
      const result = run(op, data, ctx)
      if (op === 'subscribe') void Promise.resolve(result).then(() => setImmediate(handled))
      return result
    }
    const c = await TestClient.connect(s.url)
    c.send({ type: 'request', event: 'slow', correlation_id: 'r0' })
    c.send({ type: 'request', event: 'subscribe', data: { channel: 'workflow:h', since: from }, correlation_id: 'r1' })
    c.send({ type: 'request', event: 'nope', correlation_id: 'r2' })
    c.send({ type: 'request', event: 'publish', data: { channel: 'workflow:h', event: 'workflow.started', data: { workflow_id: 'h3' } }, correlation_id: 'r3' })
    c.send({ type: 'ping', id: 'p' })
    // The pong is not an answer to a request: it does not wait for the slow one.
    await c.next((f) => f.type === 'pong')
    await subscribeHandled
    release()
    const isAnswer = (f: { type?: string }) => f.type === 'response' || f.type === 'error'
    const answers = [await c.next(isAnswer), await c.next(isAnswer), await c.next(isAnswer), await c.next(isAnswer)]
    expect(answers.map((f) => f.correlation_id)).toEqual(['r0', 'r1', 'r2', 'r3'])
    // On the wire, the subscribe's answer came before the replay of h2 (the position asked from is h1's).
    await c.next((f) => f.type === 'event' && f.data?.workflow_id === 'h2')
    const order = c.raw.map((t) => JSON.parse(t) as { type: string; correlation_id?: string; data?: { workflow_id?: string } })
    const answerAt = order.findIndex((f) => f.correlation_id === 'r1')
    const replayAt = order.findIndex((f) => f.type === 'event' && f.data?.workflow_id === 'h2')
    expect(replayAt).toBeGreaterThan(answerAt)
    expect(answerAt).toBeGreaterThan(-1)
    await c.close()
  })

  describe('a handler that fails → SERVER_ERROR, no stack trace, connection open, error logged', () => {
    const failures: [string, () => unknown][] = [
      ['throws', () => { throw new Error('secret internals at /srv/app.js:12') }],
      ['rejects', async () => { throw new Error('secret internals at /srv/app.js:12') }],
      ['returns a BigInt', () => ({ n: 10n })],
      ['resolves to a BigInt', async () => ({ n: 10n })],
      ['returns a circular object', () => { const o: Record<string, unknown> = {}; o.self = o; return o }],
    ]
    it.each(failures)('handler %s', async (_what, handler) => {
      s = await startService('workflow')
      s.server.requests.register('explode', z.looseObject({}), handler as never)
      const logged: unknown[] = []
      const original = s.server.log.error.bind(s.server.log)
      s.server.log.error = ((obj: unknown, ...rest: unknown[]) => { logged.push(obj); return (original as (...a: unknown[]) => void)(obj, ...rest) }) as typeof s.server.log.error
      const c = await TestClient.connect(s.url)
      const err = await c.request('explode')
      expect(err).toMatchObject({ type: 'error', error_code: 'SERVER_ERROR', error_message: 'Internal server error', data: {} })
      expect(c.raw.join('')).not.toContain('secret internals')
      expect(logged.length).toBe(1)
      await c.alive()
      await c.close()
    })
  })
})
