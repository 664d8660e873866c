import { afterEach, describe, expect, it } from 'vitest'
import { type Frame, TestClient } from '../helpers/client.js'
import { FlatClient } from '../helpers/flat.js'
import { RawWsClient } from '../helpers/raw-ws.js'
import { startService, type Started } from '../helpers/server.js'
import { deliveryStats, startTracked, type TrackedNode } from '../helpers/tracked-service.js'

const isEvent = (event: string, room?: string) => (f: Frame) => f.type === 'event' && f.event === event && (room === undefined || f.room === room)

describe('observers: operators watch channels by pattern (docs/protocol.md A.9)', () => {
  let s: Started | undefined
  let node: TrackedNode | undefined
  const clients: TestClient[] = []
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()))
    await s?.server.close()
    await node?.server.close()
    s = node = undefined
  })
  const open = async (url: string, opts: Parameters<typeof TestClient.connect>[1] = {}) => {
    const c = await TestClient.connect(url, opts)
    clients.push(c)
    return c
  }

  it('a loopback connection observing workflow:* gets every workflow:… event, nobody subscribed, and nothing else', async () => {
    s = await startService('workflow')
    const observer = await open(s.url)
    expect((await observer.request('observe', { pattern: 'workflow:*' })).data).toEqual({ status: 'observing', pattern: 'workflow:*' })
    await s.server.publish('global', 'task.assigned', { task_id: 'not-this' })
    await s.server.publish('workflow:w1', 'workflow.started', { workflow_id: 'w1' })
    expect(await observer.next(isEvent('workflow.started'))).toMatchObject({ room: 'workflow:w1', data: { workflow_id: 'w1' } })
    await observer.alive()
    expect(observer.pending.filter((f) => f.type === 'event')).toEqual([])
    // Observers are no subscribers: the channel has none, and the observer owes nothing.
    expect(s.server.roomCounts()).toEqual({})

    // `*` is every channel; a channel it also subscribes to arrives once.
    await observer.request('observe', { pattern: '*' })
    await observer.subscribe('global')
    await s.server.publish('global', 'task.assigned', { task_id: 'once' })
    await observer.next(isEvent('task.assigned', 'global'))
    await observer.alive()
    expect(observer.raw.filter((r) => r.includes('"once"'))).toHaveLength(1)

    expect((await observer.request('unobserve', { pattern: '*' })).data).toEqual({ status: 'unobserved', pattern: '*' })
    await observer.request('unobserve', { pattern: 'workflow:*' })
    await observer.request('unsubscribe', { channel: 'global' })
    await s.server.publish('workflow:w2', 'workflow.started', { workflow_id: 'w2' })
    await observer.alive()
    expect(observer.pending.filter((f) => f.type === 'event')).toEqual([])
  })

  it('refuses a non-operator with FORBIDDEN: a non-loopback Host without api_key, or no Bearer key with one', async () => {
    s = await startService('workflow')
    const byIp = await open(s.url, { headers: { host: '192.0.2.1' } })
    const refused = await byIp.request('observe', { pattern: '*' })
    expect(refused).toMatchObject({ type: 'error', error_code: 'FORBIDDEN' })
    expect(refused.error_message).toMatch(/operators.*loopback.*API key/)
    await s.server.close()

    s = await startService('workflow', { api_key: 'k-12345678' })
    const withoutKey = await open(s.url)
    expect(await withoutKey.request('observe', { pattern: '*' })).toMatchObject({ type: 'error', error_code: 'FORBIDDEN' })
    const withKey = await open(s.url, { headers: { authorization: 'Bearer k-12345678' } })
    expect((await withKey.request('observe', { pattern: '*' })).data).toEqual({ status: 'observing', pattern: '*' })
  })

  it('answers a missing or malformed pattern with INVALID_PARAMS naming the field, to observe and unobserve alike', async () => {
    s = await startService('workflow')
    const c = await open(s.url)
    for (const event of ['observe', 'unobserve']) {
      for (const pattern of [undefined, 7, '', 'has space', 'x'.repeat(300)]) {
        const answer = await c.request(event, pattern === undefined ? {} : { pattern })
        expect(answer).toMatchObject({ type: 'error', error_code: 'INVALID_PARAMS' })
        expect(answer.error_message).toMatch(/pattern/)
      }
    }
  })

  it('flat dialect: {"type":"observe","pattern":…} is acked; a tracked event reaches the observer once, untracked', async () => {
    node = await startTracked({ delivery: { ack_timeout: 0.2 } }, undefined, 'flat')
    const observer = await FlatClient.open(node.url)
    clients.push(observer)
    // A subscriber that never acks: its copy fails after max_attempts, the observer's is never tracked.
    const subscriber = await FlatClient.open(node.url)
    clients.push(subscriber)
    expect(await observer.op({ type: 'observe', pattern: 'topics/*' })).toMatchObject({ success: true, pattern: 'topics/*' })
    await observer.op({ type: 'unobserve', pattern: 'nothing' })
    await subscriber.subscribeFlat('topics/t1')
    const { pub } = await node.server.publish('topics/t1', 'task.created', { task_id: 't1' })
    await node.logs.waitFor('tracked delivery failed')
    await observer.pingFlat()
    expect(observer.raw.filter((r) => r.includes(pub.id))).toHaveLength(1)
    expect(subscriber.raw.filter((r) => r.includes(pub.id))).toHaveLength(3)
    expect(await deliveryStats(node)).toMatchObject({ pending: 0, failed: 1 })
    // Both are in global (auto-subscribed): the observer's copy is still tracked for nobody.
    const second = (await node.server.publish('global', 'task.created', { task_id: 't2' })).pub
    await node.logs.waitFor('tracked delivery failed', 2)
    await observer.pingFlat()
    expect(observer.raw.filter((r) => r.includes(second.id))).toHaveLength(1)
    expect(await deliveryStats(node)).toMatchObject({ pending: 0, failed: 2 })
  })

  it('an observer that stops reading is cut as a slow consumer; subscribers and the delivery counters go on untouched', async () => {
    node = await startTracked({ max_buffered_bytes: 64 * 1024 })
    const fast = await open(node.url)
    await fast.subscribe('tasks:t')
    const raw = await RawWsClient.connect(Number(new URL(node.url).port))
    await raw.next((f) => f.event === 'session.created')
    raw.sendText(JSON.stringify({ type: 'request', event: 'observe', data: { pattern: 'tasks:*' }, correlation_id: 'o1' }))
    expect((await raw.next((f) => f.correlation_id === 'o1')).data).toEqual({ status: 'observing', pattern: 'tasks:*' })
    raw.socket.pause()
    const blob = 'x'.repeat(32 * 1024)
    for (let i = 0; node.server.stats.slowConsumerCloses === 0 && i < 2000; i++) {
      await node.server.publish('tasks:t', 'task.created', { i, blob })
      const event = await fast.next(isEvent('task.created'))
      fast.send({ type: 'ack', data: { message_id: event.id } })
    }
    expect(node.server.stats.slowConsumerCloses).toBe(1)
    await fast.alive()
    raw.socket.resume()
    await raw.ended
    await expect.poll(() => node?.server.connectionCount).toBe(1)
    expect(await deliveryStats(node)).toMatchObject({ pending: 0, failed: 0 })
  })
})
