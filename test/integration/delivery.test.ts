import { afterEach, describe, expect, it } from 'vitest'
import { signToken } from '../../src/auth/jwt.js'
import { type Frame, TestClient } from '../helpers/client.js'
import { deliveryStats, startTracked, type TrackedNode } from '../helpers/tracked-service.js'

const SECRET = 'delivery-test-secret-0123456789'
const isTask = (f: Frame) => f.type === 'event' && f.event === 'task.created'
const ack = (id: unknown) => ({ type: 'ack', data: { message_id: id } })

/** Connects, authenticates as `user` when given, subscribes to tasks:t1. */
async function subscriber(node: TrackedNode, user?: string): Promise<TestClient> {
  const c = await TestClient.connect(node.url)
  if (user !== undefined) expect((await c.request('auth', { token: await signToken({ userId: user }, SECRET) })).type).toBe('response')
  expect((await c.subscribe('tasks:t1')).data?.status).toBe('subscribed')
  return c
}

describe('at-least-once delivery, envelope dialect (docs/protocol.md A.8)', () => {
  let node: TrackedNode
  const clients: TestClient[] = []
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()))
    await node?.server.close()
  })
  const start = (delivery: Record<string, unknown> = {}) =>
    startTracked({ auth: { secret: SECRET }, delivery: { ack_timeout: 0.2, ...delivery } }).then((n) => (node = n))

  it('re-sends an unacknowledged event max_attempts times, ack_timeout apart, with its id; then counts it failed', async () => {
    await start()
    const c = await subscriber(node)
    clients.push(c)
    // Copy k leaves at least k × ack_timeout after the publish began; it may be read later, never
    // earlier. (Gaps between reads are no bound: a busy host may read copy 1 late and copy 2 on time.)
    const before = performance.now()
    const { pub } = await node.server.publish('tasks:t1', 'task.created', { task_id: 't1' })
    const copies: { frame: Frame; at: number }[] = []
    for (let i = 0; i < 3; i++) copies.push({ frame: await c.next(isTask), at: performance.now() - before })
    const [failure] = await node.logs.waitFor('tracked delivery failed')
    await c.alive()
    expect(c.pending.filter(isTask)).toEqual([])
    expect(copies.map((x) => x.frame.id)).toEqual([pub.id, pub.id, pub.id])
    expect(new Set(c.raw.filter((r) => r.includes('"task.created"'))).size).toBe(1) // the same bytes each time
    for (let i = 1; i < 3; i++) expect(copies[i]!.at).toBeGreaterThanOrEqual(i * 200 - 5)
    expect(failure).toMatchObject({ event: 'task.created', id: pub.id, attempts: 3, recipient: expect.stringMatching(/^connection /) })
    expect(await deliveryStats(node)).toMatchObject({ tracked_events: ['task.created'], pending: 0, failed: 1, resent: 2, tracked: 1 })
    expect(await (await fetch(`${node.http}/stats`)).json()).toMatchObject({ pending_deliveries: 0, failed_deliveries: 1 })
    const metrics = await (await fetch(`${node.http}/metrics`)).text()
    expect(metrics).toMatch(/^roomcast_delivery_failed_total\{service="tracked"\} 1$/m)
  })

  it('sends an acknowledged event once; the pending count drops to 0; untracked events are never re-sent', async () => {
    await start()
    const c = await subscriber(node)
    clients.push(c)
    const acked = (await node.server.publish('tasks:t1', 'task.created', { n: 1 })).pub
    const note = (await node.server.publish('tasks:t1', 'note.added', { n: 2 })).pub
    const first = await c.next(isTask)
    expect(first.id).toBe(acked.id)
    c.send(ack(first.id))
    await c.alive()
    expect(await deliveryStats(node)).toMatchObject({ pending: 0, acked: 1 })
    const eventIds = () => c.raw.map((r) => JSON.parse(r) as Frame).filter((f) => f.type === 'event').map((f) => f.id)
    // Once the ack is in, no copy follows. (Before it, a copy may cross it: on a busy host the ack
    // can take longer than ack_timeout to arrive, and the re-send is then right.)
    const ackedCopies = eventIds().filter((id) => id === acked.id).length
    // A second event left unacknowledged gets its three copies: time enough for any retry of the first.
    const unacked = (await node.server.publish('tasks:t1', 'task.created', { n: 3 })).pub
    for (let i = 0; i < 3; i++) await c.next((f) => isTask(f) && f.id === unacked.id)
    await node.logs.waitFor('tracked delivery failed')
    await c.alive()
    const ids = eventIds()
    expect(ids.filter((id) => id === acked.id)).toHaveLength(ackedCopies)
    expect(ids.filter((id) => id === unacked.id)).toHaveLength(3)
    expect(ids.filter((id) => id === note.id)).toHaveLength(1)
    expect(await deliveryStats(node)).toMatchObject({ pending: 0, acked: 1, failed: 1 })
  })

  it('gives a user its pending events on the connection it reconnects with, then stops at the ack', async () => {
    await start({ ack_timeout: 2 })
    const old = await subscriber(node, 'alice')
    const bob = await subscriber(node, 'bob')
    clients.push(bob)
    const { pub } = await node.server.publish('tasks:t1', 'task.created', { task_id: 't1' })
    expect((await old.next(isTask)).id).toBe(pub.id)
    bob.send(ack((await bob.next(isTask)).id))
    await old.close()
    const fresh = await TestClient.connect(node.url)
    clients.push(fresh)
    fresh.send({ type: 'request', event: 'auth', data: { token: await signToken({ userId: 'alice' }, SECRET) } })
    const again = await fresh.next(isTask) // not subscribed: it is alice's, not the channel's
    expect(again).toMatchObject({ id: pub.id, room: 'tasks:t1', data: { task_id: 't1' } })
    fresh.send(ack(again.id))
    await fresh.alive()
    expect(await deliveryStats(node)).toMatchObject({ pending: 0, acked: 2, failed: 0 })
  })

  it('fails an anonymous connection\'s pending events when it closes', async () => {
    await start({ ack_timeout: 5 })
    const c = await subscriber(node)
    await node.server.publish('tasks:t1', 'task.created', {})
    await c.next(isTask)
    await c.close()
    const [line] = await node.logs.waitFor('tracked delivery failed')
    expect(line).toMatchObject({ reason: 'connection closed' })
    expect(await deliveryStats(node)).toMatchObject({ pending: 0, failed: 1 })
  })

  it('bounds what one connection holds pending and counts the overflow (the event still goes out once)', async () => {
    await start({ max_pending_per_connection: 2, ack_timeout: 5 })
    const c = await subscriber(node)
    clients.push(c)
    for (let i = 0; i < 3; i++) await node.server.publish('tasks:t1', 'task.created', { i })
    for (let i = 0; i < 3; i++) expect((await c.next(isTask)).data).toEqual({ i })
    await node.logs.waitFor('delivery bound reached: event sent once without tracking')
    expect(await deliveryStats(node)).toMatchObject({ pending: 2, overflow: 1 })
  })

  it('ignores and counts acks for unknown, foreign or malformed ids, answering none of them', async () => {
    await start({ ack_timeout: 5 })
    const [a, b] = [await subscriber(node), await subscriber(node)]
    clients.push(a, b)
    const { pub } = await node.server.publish('tasks:t1', 'task.created', {})
    await a.next(isTask)
    await b.next(isTask)
    a.send(ack('no-such-id'))
    a.send({ type: 'ack', data: { message_id: pub.id }, id: 'x' })
    a.send({ type: 'ack', data: { message_id: pub.id } }) // already settled
    b.send({ type: 'ack', data: {} })
    b.send({ type: 'ack', data: { message_id: 7 } })
    await a.alive()
    await b.alive()
    expect(b.pending.filter((f) => f.type === 'error')).toEqual([])
    expect(await deliveryStats(node)).toMatchObject({ pending: 1, acked: 1, unknown_acks: 4 })
  })

  it('settles several events with one message_ids frame, compact or not; the ids it does not know are counted', async () => {
    await start({ ack_timeout: 5 })
    const c = await subscriber(node)
    clients.push(c)
    const ids: string[] = []
    for (let i = 0; i < 5; i++) {
      await node.server.publish('tasks:t1', 'task.created', { i })
      ids.push(String((await c.next(isTask)).id))
    }
    expect(await deliveryStats(node)).toMatchObject({ pending: 5 })
    // The compact form (read without parsing), then the same with spaces (parsed), each naming one unknown id.
    c.ws.send(`{"type":"ack","data":{"message_ids":["${ids[0]}","${ids[1]}","nope-1"]}}`)
    c.ws.send(`{ "type": "ack", "data": { "message_ids": ["${ids[2]}", "${ids[3]}", "nope-2"] } }`)
    c.send({ type: 'ack', data: { message_ids: [ids[4], 42] } })
    await c.alive()
    expect(c.pending.filter((f) => f.type === 'error')).toEqual([])
    expect(await deliveryStats(node)).toMatchObject({ pending: 0, acked: 5, unknown_acks: 3 })
  })

  it('tracks nothing without delivery.tracked: no state, acks merely counted', async () => {
    await start({ tracked: [] })
    const c = await subscriber(node)
    clients.push(c)
    await node.server.publish('tasks:t1', 'task.created', {})
    c.send(ack((await c.next(isTask)).id))
    await c.alive()
    expect(await deliveryStats(node)).toMatchObject({ tracked_events: [], pending: 0, tracked: 0, unknown_acks: 1 })
  })

  describe('on a history channel', () => {
    const startWithHistory = () =>
      startTracked({ history: [{ channel: 'tasks:*', size: 100, ttl: 60 }], delivery: { ack_timeout: 0.2 } }).then((n) => (node = n))

    it('a tracked event a subscriber gets from its replay is tracked too: re-sent until acked, else failed', async () => {
      await startWithHistory()
      const first = await TestClient.connect(node.url)
      clients.push(first)
      const top = (await first.subscribe('tasks:t1')).data as { offset: number; epoch: string }
      await first.close()
      const acked = (await node.server.publish('tasks:t1', 'task.created', { n: 1 })).pub
      const unacked = (await node.server.publish('tasks:t1', 'task.created', { n: 2 })).pub
      const c = await TestClient.connect(node.url)
      clients.push(c)
      const since = { offset: top.offset, epoch: top.epoch }
      expect((await c.request('subscribe', { channel: 'tasks:t1', since })).data).toMatchObject({ recovered: true })
      expect((await c.next(isTask)).id).toBe(acked.id)
      c.send(ack(acked.id))
      // The second, never acked: its replayed copy and two re-sends, then it fails.
      for (let i = 0; i < 3; i++) expect((await c.next(isTask)).id).toBe(unacked.id)
      await node.logs.waitFor('tracked delivery failed')
      expect(await deliveryStats(node)).toMatchObject({ tracked: 2, acked: 1, failed: 1, pending: 0 })
    })
  })
})
