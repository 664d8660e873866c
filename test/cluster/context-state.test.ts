import { once } from 'node:events'
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InstanceFigures, MemoryFigures, RedisFigures } from '../../services/context/cluster-figures.js'
import { type MetricSnapshot, MetricsPublisher, mergeFigures } from '../../services/context/metrics-publisher.js'
import { RateWindow } from '../../services/context/rate-window.js'
import { MemoryRestoreStore, RedisRestoreStore } from '../../services/context/restore-store.js'
import { redisNames } from '../../src/broker/redis-channels.js'
import { TestRedis } from '../helpers/redis.js'

let redis: TestRedis
let client: Redis
beforeAll(async () => {
  redis = await TestRedis.start()
  client = new Redis(redis.url)
})
afterAll(async () => {
  client?.disconnect()
  await redis?.kill()
})

const log = pino({ level: 'silent' })
const names = () => redisNames(`t-${randomUUID().slice(0, 8)}:`, 'context')
const figures = (instance: string, over: Partial<InstanceFigures> = {}): InstanceFigures => ({
  v: 1,
  instance,
  connected_clients: 1,
  agents: [],
  sessions: [],
  pending_deliveries: 0,
  failed_deliveries: 0,
  ...over,
})

describe('restore stores', () => {
  it('memory: kept for the ttl, bounded by agents and channels', async () => {
    const store = new MemoryRestoreStore({ ttlSeconds: 60, maxAgents: 2, maxChannels: 2 })
    await store.save('a', ['topics/x', 'topics/y', 'topics/z'])
    expect(await store.load('a')).toEqual(['topics/x', 'topics/y'])
    await store.save('b', ['metrics'])
    await store.save('c', ['metrics'])
    expect(await store.load('a')).toEqual([])
    expect(await store.load('c')).toEqual(['metrics'])
    let now = 1_000_000
    const clocked = new MemoryRestoreStore({ ttlSeconds: 600, maxAgents: 2, maxChannels: 2 }, () => now)
    await clocked.save('a', ['metrics'])
    now += 599_999
    expect(await clocked.load('a')).toEqual(['metrics'])
    now += 1
    expect(await clocked.load('a')).toEqual([])
  })

  it('redis: shared by instances, expires with the ttl, malformed entries counted', async () => {
    const n = names()
    const one = new RedisRestoreStore(client, n.restore, { ttlSeconds: 60, maxChannels: 10 })
    const two = new RedisRestoreStore(client, n.restore, { ttlSeconds: 60, maxChannels: 10 })
    await one.save('agent-a', ['metrics', 'topics/deploys'])
    expect(await two.load('agent-a')).toEqual(['metrics', 'topics/deploys'])
    expect(await client.pttl(n.restore('agent-a'))).toBeGreaterThan(50_000)
    await client.set(n.restore('agent-b'), '{"channels":"nope"}')
    expect(await two.load('agent-b')).toEqual([])
    expect(two.malformed).toBe(1)
    expect(await two.load('nobody')).toEqual([])
  })
})

describe('metrics: one publisher per cluster', () => {
  it('the lock goes to one instance; figures of every live instance are merged', async () => {
    const n = names()
    const keys = { lock: n.lock('metrics'), index: n.figuresIndex, figures: n.figures }
    const a = new RedisFigures(client, keys, 'A', 30)
    const b = new RedisFigures(client, keys, 'B', 30)
    expect(await a.report(figures('A', { agents: ['x', 'y'], sessions: ['s1'], connected_clients: 3, failed_deliveries: 1 }))).toBe(true)
    expect(await b.report(figures('B', { agents: ['y', 'z'], sessions: ['s1', 's2'], connected_clients: 2, pending_deliveries: 4 }))).toBe(false)
    expect(await a.report(figures('A'))).toBe(true)
    const merged = mergeFigures(await a.collect())
    expect(merged).toMatchObject({ instances: 2, connected_clients: 3, pending_deliveries: 4 })
    await client.set(n.figures('C'), 'garbage')
    await client.zadd(n.figuresIndex, Date.now(), 'C')
    expect(await a.collect()).toHaveLength(2)
    expect(a.malformed).toBe(1)
    await a.leave()
    expect(await b.report(figures('B'))).toBe(true)
    expect(mergeFigures([figures('A', { agents: ['x', 'y'] }), figures('B', { agents: ['y', 'z'] })]).active_agents).toBe(3)
  })

  it('another instance takes over when the holder stops renewing (died without leaving)', async () => {
    const n = names()
    const keys = { lock: n.lock('metrics'), index: n.figuresIndex, figures: n.figures }
    const local = () => ({ connected_clients: 0, agents: [], sessions: [], pending_deliveries: 0, failed_deliveries: 0 })
    const snapshots: MetricSnapshot[] = []
    const publisher = (id: string) =>
      new MetricsPublisher(new RedisFigures(client, keys, id, 0.3), { local, publish: (s) => snapshots.push(s) }, { intervalSeconds: 0.05, instanceId: id, log })
    const a = publisher('A')
    const b = publisher('B')
    expect(await a.tick()).toBe(true)
    expect(await b.tick()).toBe(false)
    // A "dies": it neither renews nor leaves. B keeps ticking and must take over once the lock expires.
    b.start()
    const [taken] = (await once(b, 'published')) as [MetricSnapshot]
    await b.stop()
    expect(taken.publisher).toBe('B')
    expect(snapshots.map((s) => s.publisher)).toEqual(['A', 'B'])
  })

  it('a snapshot is of one moment: what happens during its round trips waits for the next one', async () => {
    const snapshots: MetricSnapshot[] = []
    let clients = 1
    let release = () => {}
    const held = new Promise<void>((resolve) => (release = resolve))
    // The exchange answers late, as Redis does on a busy host.
    class LateFigures extends MemoryFigures {
      override async report(figures: InstanceFigures): Promise<boolean> {
        await held
        return super.report(figures)
      }
    }
    const local = () => ({ connected_clients: clients, agents: [], sessions: [], pending_deliveries: 0, failed_deliveries: 0 })
    const p = new MetricsPublisher(new LateFigures(), { local, publish: (s) => snapshots.push(s) }, { intervalSeconds: 5, instanceId: 'M', log })
    const first = p.tick()
    // A second client connects and publishes while the round trips of the first tick are out.
    clients = 2
    p.count('task.created')
    release()
    expect(await first).toBe(true)
    expect(snapshots[0]).toMatchObject({ connected_clients: 1, actions_per_minute: 0 })
    expect(await p.tick()).toBe(true)
    expect(snapshots[1]).toMatchObject({ connected_clients: 2, actions_per_minute: 1, events_per_minute: { task: 1 } })
  })

  it('memory: always the publisher, with the last minute counted by family', async () => {
    const snapshots: MetricSnapshot[] = []
    const local = () => ({ connected_clients: 2, agents: ['a'], sessions: ['s'], pending_deliveries: 1, failed_deliveries: 0 })
    const p = new MetricsPublisher(new MemoryFigures(), { local, publish: (s) => snapshots.push(s) }, { intervalSeconds: 5, instanceId: 'M', log })
    p.count('task.created')
    p.count('task.updated')
    p.count('message.new')
    p.count('custom')
    expect(await p.tick()).toBe(true)
    expect(snapshots[0]).toMatchObject({
      active_sessions: 1,
      active_agents: 1,
      connected_clients: 2,
      actions_per_minute: 4,
      events_per_minute: { task: 2, message: 1, subtask: 0, agent: 0 },
      pending_deliveries: 1,
      instances: 1,
    })
  })

  it('the window forgets what is older than a minute', () => {
    let now = 1_000_000
    const w = new RateWindow(['task'], () => now)
    w.add('task')
    now += 30_000
    w.add('task')
    expect(w.lastMinute()).toEqual({ total: 2, byKey: { task: 2 } })
    now += 31_000
    expect(w.lastMinute()).toEqual({ total: 1, byKey: { task: 1 } })
    now += 60_000
    expect(w.lastMinute()).toEqual({ total: 0, byKey: { task: 0 } })
  })
})
