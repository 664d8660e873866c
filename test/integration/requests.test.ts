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
