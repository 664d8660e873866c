import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { signToken } from '../../src/auth/jwt.js'
import { type Frame, TestClient } from '../helpers/client.js'
import { brokerState } from '../helpers/cluster.js'
import { BACKENDS, useBackend } from '../helpers/redis-backends.js'
import { deliveryStats, startTracked, type TrackedNode } from '../helpers/tracked-service.js'

const SECRET = 'delivery-test-secret-0123456789'
const isTask = (f: Frame) => f.type === 'event' && f.event === 'task.created'

async function login(node: TrackedNode, user: string, subscribe: boolean): Promise<TestClient> {
  const c = await TestClient.connect(node.url)
  expect((await c.request('auth', { token: await signToken({ userId: user }, SECRET) })).type).toBe('response')
  if (subscribe) expect((await c.subscribe('tasks:t1')).data?.status).toBe('subscribed')
  return c
}

describe.each(BACKENDS)('at-least-once delivery across two instances on %s', (kind) => {
  const backend = useBackend(kind)
  let nodes: TrackedNode[] = []
  const clients: TestClient[] = []
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()))
    await Promise.all(nodes.map((n) => n.server.close()))
    nodes = []
  })

  /** `leaseMs`: each instance's own broker with that instance expiry (its lease), else the default's. */
  async function twoNodes(dialect: 'envelope' | 'flat' = 'envelope', durable: 'auto' | 'off' = 'auto', leaseMs?: number): Promise<[TrackedNode, TrackedNode]> {
    const prefix = `delivery-${randomUUID().slice(0, 8)}:`
    const settings = { auth: { secret: SECRET }, delivery: { ack_timeout: 2, durable } }
    const redisAt = backend.settings(prefix)
    const start = () => startTracked(settings, redisAt, dialect, leaseMs === undefined ? undefined : backend.broker(prefix, { expiryMs: leaseMs }))
    nodes = [await start(), await start()]
    await Promise.all(nodes.map((n) => brokerState(n.server, 'connected')))
    return nodes as [TrackedNode, TrackedNode]
  }

  /** alice gets one task on `a` and does not acknowledge it; `a` stops; alice logs in on `b` (not subscribed). */
  async function pendingThenStop(a: TrackedNode, b: TrackedNode): Promise<{ pub: { id: string }; fresh: TestClient }> {
    const old = await login(a, 'alice', true)
    const { pub } = await a.server.publish('tasks:t1', 'task.created', { n: 1 })
    expect((await old.next(isTask)).id).toBe(pub.id)
    await a.server.close()
    nodes = [b]
    const fresh = await login(b, 'alice', false)
    clients.push(fresh)
    return { pub, fresh }
  }

  it('delivers a user\'s pending events on the other instance it reconnects to, acked there, nothing stays pending on either', async () => {
    const [a, b] = await twoNodes()
    const old = await login(a, 'alice', true)
    const first = (await a.server.publish('tasks:t1', 'task.created', { n: 1 })).pub
    const second = (await a.server.publish('tasks:t1', 'task.created', { n: 2 })).pub
    expect((await old.next(isTask)).id).toBe(first.id)
    expect((await old.next(isTask)).id).toBe(second.id)
    await old.close()
    const fresh = await login(b, 'alice', false)
    clients.push(fresh)
    const got = [await fresh.next(isTask), await fresh.next(isTask)]
    expect(got.map((f) => [f.id, f.data])).toEqual([[first.id, { n: 1 }], [second.id, { n: 2 }]])
    for (const f of got) fresh.send({ type: 'ack', data: { message_id: f.id } })
    await fresh.alive()
    expect(await deliveryStats(b)).toMatchObject({ pending: 0, adopted: 2, acked: 2, failed: 0 })
    // a learns of the old connection's close on its own schedule: b may have adopted from Redis first.
    await expect.poll(() => deliveryStats(a), { timeout: 20_000 }).toMatchObject({ pending: 0, handed_over: 2, failed: 0 })
  })

  it('hands them over when the old connection closes after the user reconnected elsewhere', async () => {
    const [a, b] = await twoNodes()
    const old = await login(a, 'alice', true)
    const { pub } = await a.server.publish('tasks:t1', 'task.created', { n: 1 })
    expect((await old.next(isTask)).id).toBe(pub.id)
    const fresh = await login(b, 'alice', false)
    clients.push(fresh)
    await fresh.alive()
    expect(fresh.pending.filter(isTask)).toEqual([]) // still pending on a: its connection there is open
    await old.close()
    expect((await fresh.next(isTask)).id).toBe(pub.id)
    await expect.poll(() => deliveryStats(a), { timeout: 20_000 }).toMatchObject({ pending: 0, handed_over: 1 })
  })

  it('flat dialect: an agent reconnecting to the other instance gets its pending msg_ events there', async () => {
    const [a, b] = await twoNodes('flat')
    const flat = async (node: TrackedNode) => {
      const c = await TestClient.connect(`${node.url}?agent_id=agent-1`, { welcome: false })
      await c.next((f) => f.type === 'connected')
      return c
    }
    const old = await flat(a)
    const { pub } = await a.server.publish('agents/agent-1', 'task.created', { task_id: 't1' })
    expect((await old.next(isTask)).id).toBe(pub.id)
    await old.close()
    const fresh = await flat(b)
    clients.push(fresh)
    const again = await fresh.next(isTask)
    expect(again).toMatchObject({ id: pub.id, channel: 'agents/agent-1', data: { task_id: 't1' } })
    fresh.send({ type: 'ack', message_id: pub.id })
    fresh.send({ type: 'ping' })
    await fresh.next((f) => f.type === 'pong')
    expect(await deliveryStats(b)).toMatchObject({ pending: 0, adopted: 1, acked: 1 })
  })

  it('keeps pending events in Redis: an instance that stops hands them to the next one the user connects to, same ids, attempts go on', async () => {
    const [a, b] = await twoNodes()
    const old = await login(a, 'alice', true)
    const first = (await a.server.publish('tasks:t1', 'task.created', { n: 1 })).pub
    const second = (await a.server.publish('tasks:t1', 'task.created', { n: 2 })).pub
    expect((await old.next(isTask)).id).toBe(first.id)
    expect((await old.next(isTask)).id).toBe(second.id)
    old.send({ type: 'ack', data: { message_id: first.id } })
    await old.alive()
    // a stops: its memory is gone, its record in Redis is not.
    await a.server.close()
    nodes = [b]
    const fresh = await login(b, 'alice', false)
    clients.push(fresh)
    // a released alice's record and deleted its lease before its connection quit: b adopts at once.
    const again = await fresh.next(isTask)
    expect([again.id, again.data]).toEqual([second.id, { n: 2 }])
    fresh.send({ type: 'ack', data: { message_id: second.id } })
    await fresh.alive()
    expect(fresh.pending.filter(isTask)).toEqual([])
    expect(await deliveryStats(b)).toMatchObject({ pending: 0, adopted: 1, acked: 1, failed: 0, durable: 'redis' })
  })

  it('a graceful stop lets go of its records before its connections close: the next instance adopts at once, not when the lease runs out', async () => {
    // A 30 s instance expiry (the lease): adoption after a crash would come long after the wait below.
    const [a, b] = await twoNodes('envelope', 'auto', 30_000)
    const { pub, fresh } = await pendingThenStop(a, b)
    // Safety bound only (adoption takes milliseconds); a third of the lease.
    expect((await fresh.next(isTask, 10_000)).id).toBe(pub.id)
    expect(await deliveryStats(b)).toMatchObject({ adopted: 1, durable: 'redis' })
  })

  it('flat dialect: a tracked event to an agent connected nowhere waits in Redis and reaches it on its next connection', async () => {
    const [a, b] = await twoNodes('flat')
    const { pub } = await a.server.publish('agents/agent-9', 'task.created', { task_id: 't9' })
    const c = await TestClient.connect(`${b.url}?agent_id=agent-9`, { welcome: false })
    clients.push(c)
    expect(await c.next(isTask)).toMatchObject({ id: pub.id, channel: 'agents/agent-9', data: { task_id: 't9' } })
    c.send({ type: 'ack', message_id: pub.id })
    c.send({ type: 'ping' })
    await c.next((f) => f.type === 'pong')
    expect(await deliveryStats(b)).toMatchObject({ pending: 0, adopted: 1, acked: 1 })
  })

  it('delivery.durable: off keeps pending events in memory only', async () => {
    const [a, b] = await twoNodes('envelope', 'off')
    const { fresh } = await pendingThenStop(a, b)
    await fresh.alive()
    expect(fresh.pending.filter(isTask)).toEqual([])
    expect(await deliveryStats(b)).toMatchObject({ adopted: 0, durable: 'memory' })
  })
})
