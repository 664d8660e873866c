import { afterEach, describe, expect, it } from 'vitest'
import { TestClient } from '../helpers/client.js'
import { startService, type Started } from '../helpers/server.js'

const publish = (c: TestClient, channel: unknown, event: unknown, data: unknown) => c.request('publish', { channel, event, data })

describe('events and publishing (docs/protocol.md A.5)', () => {
  let s: Started
  afterEach(async () => s?.server.close())

  it('a socket publish answers {status:"published", id} and reaches every subscriber, the sender included', async () => {
    s = await startService('workflow', { allow_client_publish: true })
    const sender = await TestClient.connect(s.url)
    const other = await TestClient.connect(s.url)
    await sender.subscribe('workflow:w1')
    await other.subscribe('workflow:w1')
    const res = await publish(sender, 'workflow:w1', 'workflow.started', { workflow_id: 'w1', extra: true })
    expect(res).toMatchObject({ type: 'response', event: 'publish', data: { status: 'published', id: expect.any(String) } })
    for (const c of [sender, other]) {
      const ev = await c.next((f) => f.type === 'event')
      expect(ev).toMatchObject({ id: res.data!.id, type: 'event', event: 'workflow.started', room: 'workflow:w1', correlation_id: null, data: { workflow_id: 'w1', extra: true } })
    }
    await Promise.all([sender.close(), other.close()])
  })

  it('every subscriber gets the same bytes; a client subscribed elsewhere gets nothing', async () => {
    s = await startService('workflow')
    const subs = await Promise.all([1, 2, 3].map(() => TestClient.connect(s.url)))
    const outsider = await TestClient.connect(s.url)
    for (const c of subs) await c.subscribe('pool:p1')
    await outsider.subscribe('pool:p2')
    s.server.publish('pool:p1', 'pool.status_changed', { pool_id: 'p1', status: 'busy' })
    s.server.publish('pool:p2', 'pool.status_changed', { pool_id: 'p2', status: 'idle' })
    const frames = await Promise.all(subs.map(async (c) => (await c.next(), c.raw.at(-1))))
    expect(new Set(frames).size).toBe(1)
    expect((await outsider.next()).data?.pool_id).toBe('p2')
    await Promise.all([...subs, outsider].map((c) => c.close()))
  })

  it('anonymous sockets may not publish unless allow_client_publish → FORBIDDEN', async () => {
    s = await startService('workflow')
    const c = await TestClient.connect(s.url)
    expect(await publish(c, 'workflow:w1', 'workflow.started', { workflow_id: 'w1' })).toMatchObject({
      type: 'error',
      error_code: 'FORBIDDEN',
      error_message: 'Not authorized to publish to workflow:w1',
    })
    await c.close()
  })

  const bad: [string, unknown, unknown, unknown, string, RegExp][] = [
    ['an undeclared event', 'workflow:w1', 'workflow.exploded', {}, 'INVALID_EVENT', /^Unknown event: workflow\.exploded$/],
    ['no event name', 'workflow:w1', undefined, {}, 'INVALID_EVENT', /^Missing event name$/],
    ['a payload missing a required field', 'workflow:w1', 'workflow.stage_completed', { workflow_id: 'w1' }, 'INVALID_EVENT', /stage_name/],
    ['a payload field of the wrong type', 'workflow:w1', 'workflow.started', { workflow_id: 5 }, 'INVALID_EVENT', /workflow_id/],
    ['a payload that is an array', 'workflow:w1', 'workflow.started', [1], 'INVALID_EVENT', /must be an object/],
    ['an unknown channel', 'nowhere', 'workflow.started', { workflow_id: 'w1' }, 'INVALID_CHANNEL', /^Unknown channel: nowhere$/],
    ['no channel', undefined, 'workflow.started', { workflow_id: 'w1' }, 'INVALID_CHANNEL', /^Missing channel$/],
  ]

  it.each(bad)('publishing %s → error, nothing delivered, connection open', async (_what, channel, event, data, code, message) => {
    s = await startService('workflow', { allow_client_publish: true })
    const c = await TestClient.connect(s.url)
    await c.subscribe('workflow:w1')
    const err = await publish(c, channel, event, data)
    expect(err.error_code).toBe(code)
    expect(err.error_message).toMatch(message)
    expect(s.server.stats.broadcasts).toBe(0)
    await c.alive()
    await c.close()
  })

  it('client event frames other than the subscribe forms are ignored, as in Python', async () => {
    s = await startService('workflow', { allow_client_publish: true })
    const c = await TestClient.connect(s.url)
    await c.subscribe('workflow:w1')
    c.send({ type: 'event', event: 'workflow.started', room: 'workflow:w1', data: { workflow_id: 'w1' } })
    c.send({ type: 'ping', correlation_id: 'after' })
    expect(await c.next()).toMatchObject({ type: 'pong', correlation_id: 'after' })
    expect(s.server.stats.broadcasts).toBe(0)
    await c.close()
  })

  it('the typed in-process broadcaster delivers to subscribers', async () => {
    s = await startService('workflow')
    const c = await TestClient.connect(s.url)
    await c.subscribe('workflow:w9')
    const pub = s.server.emit('workflow:w9', 'workflow.completed', { workflow_id: 'w9' })
    expect(await c.next()).toMatchObject({ id: pub.id, event: 'workflow.completed', room: 'workflow:w9' })
    await c.close()
  })
})
