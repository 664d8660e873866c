import { describe, expect, it } from 'vitest'
import { type InstanceFigures, SharedFigures } from '../../services/context/cluster-figures.js'
import { SharedRestoreStore } from '../../services/context/restore-store.js'
import { PrimaryState, sharedStateOver } from '../../src/cli/shared-state.js'
import { mergeClients, mergeSnapshots, sumFigures } from '../../src/server/status-merge.js'
import { type ClientsSnapshot, healthView, infoView, type StatusSnapshot, statsView, statusView } from '../../src/server/status-model.js'

/** A worker's snapshot with `connections` clients, `deliveries` deliveries and the given rooms. */
function worker(instanceId: string, connections: number, deliveries: number, channels: Record<string, number>, over: Partial<StatusSnapshot> = {}): StatusSnapshot {
  const counters = { tracked: 0, acked: 0, resent: 0, failed: 0, overflow: 0, unknown_acks: 0, handed_over: 0, adopted: 0 }
  return {
    service: 'tests',
    instanceId,
    state: 'running',
    healthy: true,
    host: '127.0.0.1',
    port: 8080,
    uptime: 1,
    connections: { current: connections, total: connections, max: 1000, rejectedAtCapacity: 0, rejectedPerIp: 0 },
    messageRateLimit: 100,
    channels,
    roomCount: Object.keys(channels).length,
    traffic: {
      messages: { in: 1, out: 2, in_by_type: { subscribe: 1 }, out_by_type: { event: 2 } },
      broadcasts: 1,
      deliveries,
      errors: {},
      rate_limited: 0,
      slow_consumer_closes: 0,
      heartbeat_timeouts: 0,
      token_expired_closes: 0,
    },
    broker: { state: 'connected', kind: 'ipc', instances: 2, published: 1, received: 3, malformed: 0, dropped: 0, refused: 0, clusterConnections: 5 },
    delivery: { tracked_events: ['task.*'], pending: 1, pending_bytes: 10, durable: 'memory', ...counters },
    parts: { context: { store: 'primary', metrics_published: 2 } },
    sources: { postgres: 'listening' },
    ...over,
  }
}

describe('status of a service with workers: every worker merged, with a breakdown', () => {
  const a = worker('A', 3, 10, { 'test:x': 2, 'test:y': 1 })
  const b = worker('B', 2, 5, { 'test:x': 2 }, { sources: { postgres: 'reconnecting' }, healthy: false })

  it('sums counters, counts rooms once, keeps the cluster view of the broker, lists each worker', () => {
    const s = mergeSnapshots(a, { id: 1, pid: 11 }, { pid: 10, uptime: 42.1234, workers: [{ id: 1, pid: 11, value: a }, { id: 2, pid: 12, value: b }] })
    expect(s.connections).toMatchObject({ current: 5, total: 5, max: 2000 })
    expect(s.channels).toEqual({ 'test:x': 4, 'test:y': 1 })
    expect(s.roomCount).toBe(2)
    expect(s.traffic).toMatchObject({ deliveries: 15, broadcasts: 2, messages: { in: 2, out: 4, in_by_type: { subscribe: 2 }, out_by_type: { event: 4 } } })
    expect(s.broker).toMatchObject({ instances: 2, clusterConnections: 5, published: 2, received: 6, kind: 'ipc' })
    expect(s.delivery).toMatchObject({ pending: 2, pending_bytes: 20, tracked_events: ['task.*'] })
    expect(s.parts).toEqual({ context: { store: 'primary', metrics_published: 4 } })
    expect(s.sources).toEqual({ postgres: 'listening (worker 1), reconnecting (worker 2)' })
    expect(s.healthy).toBe(false)
    expect(s.uptime).toBe(42.123)
    const health = healthView(s)
    expect(health).toMatchObject({ connectedClients: 5, activeChannels: 2, instance_id: 'A', status: 'unhealthy' })
    expect(health.workers).toEqual([
      expect.objectContaining({ id: 1, pid: 11, instance_id: 'A', status: 'healthy', connections: 3, rooms: 2, deliveries: 10, pending_deliveries: 1 }),
      expect.objectContaining({ id: 2, pid: 12, instance_id: 'B', status: 'unhealthy', connections: 2, rooms: 1, deliveries: 5 }),
    ])
    expect(statsView(s).workers).toHaveLength(2)
  })

  it('a worker that did not answer is listed as unreachable; the answering worker is always counted', () => {
    const s = mergeSnapshots(a, { id: 1, pid: 11 }, { pid: 10, uptime: 5, workers: [{ id: 2, pid: 12, error: 'no answer within 5 s' }] })
    expect(s.connections.current).toBe(3)
    expect(healthView(s).workers).toEqual([
      expect.objectContaining({ id: 1, connections: 3 }),
      { id: 2, pid: 12, status: 'unreachable', error: 'no answer within 5 s' },
    ])
    // One process: no breakdown at all.
    expect(healthView(a)).not.toHaveProperty('workers')
  })

  it('clients: every worker’s, each marked with its worker, oldest first', () => {
    const row = (id: string, at: string) => ({ id, connected_at: at, remote_address: '127.0.0.1', subscriptions: [], user_id: null, authenticated: false })
    const own: ClientsSnapshot = { service: 'tests', clients: [row('c2', '2026-01-01T00:00:02Z')], channels: { x: 1 } }
    const other: ClientsSnapshot = { service: 'tests', clients: [row('c1', '2026-01-01T00:00:01Z')], channels: { x: 1, y: 1 } }
    const all = mergeClients(own, { id: 2, pid: 12 }, { pid: 10, uptime: 1, workers: [{ id: 1, pid: 11, value: other }, { id: 2, pid: 12, value: own }] })
    expect(all.clients.map((c) => [c.id, c.worker])).toEqual([['c1', 1], ['c2', 2]])
    expect(all.channels).toEqual({ x: 2, y: 1 })
    expect(all.workers).toEqual([{ id: 1, pid: 11, clients: 1 }, { id: 2, pid: 12, clients: 1 }])
  })

  it('sumFigures: numbers summed, anything else from the first', () => {
    expect(sumFigures([{ n: 1, s: 'a', o: { m: 2 } }, { n: 2, s: 'b', o: { m: 3, k: 1 } }])).toEqual({ n: 3, s: 'a', o: { m: 5, k: 1 } })
  })
})

describe("the primary's shared state (the context service's lock, figures and kept subscriptions without Redis)", () => {
  let now = 1_000_000
  const primary = new PrimaryState(() => now)
  const state = sharedStateOver(async (op) => primary.apply(op))

  it('keys expire; a lock goes to one owner until released or expired; malformed operations are refused', async () => {
    await state.put('k', { a: 1 }, 1000)
    expect(await state.get('k')).toEqual({ a: 1 })
    now += 1000
    expect(await state.get('k')).toBeNull()
    expect(await state.hold('lock', 'A', 3000)).toBe(true)
    expect(await state.hold('lock', 'B', 3000)).toBe(false)
    expect(await state.hold('lock', 'A', 3000)).toBe(true)
    await state.release('lock', 'B')
    expect(await state.hold('lock', 'B', 3000)).toBe(false)
    now += 3000
    expect(await state.hold('lock', 'B', 3000)).toBe(true)
    expect(() => primary.apply({ op: 'put', key: '', value: 1, ttlMs: 1 })).toThrow()
    expect(() => primary.apply({ op: 'drop' })).toThrow()
  })

  it('two workers: one metrics publisher, both workers’ figures; an agent’s subscriptions found by the other worker', async () => {
    const figures = (instance: string): InstanceFigures => ({ v: 1, instance, connected_clients: 1, agents: [], sessions: [], pending_deliveries: 0, failed_deliveries: 0 })
    const a = new SharedFigures(state, 'wA', 3)
    const b = new SharedFigures(state, 'wB', 3)
    expect(await a.report(figures('wA'))).toBe(true)
    expect(await b.report(figures('wB'))).toBe(false)
    expect((await b.collect()).map((f) => f.instance).sort()).toEqual(['wA', 'wB'])
    await a.leave()
    expect(await b.report(figures('wB'))).toBe(true)
    expect((await b.collect()).map((f) => f.instance)).toEqual(['wB'])
    const one = new SharedRestoreStore(state, { ttlSeconds: 60, maxChannels: 2 })
    const two = new SharedRestoreStore(state, { ttlSeconds: 60, maxChannels: 2 })
    await one.save('dana', ['topics/a', 'topics/b', 'topics/c'])
    expect(await two.load('dana')).toEqual(['topics/a', 'topics/b'])
    expect(await two.load('nobody')).toEqual([])
    now += 60_000
    expect(await two.load('dana')).toEqual([])
  })
})

describe('status of a service with workers: a worker answering garbage', () => {
  const a = worker('A', 3, 10, { 'test:x': 2 })

  it('is listed with a malformed answer and left out of the sums; every view still answers', () => {
    const garbage: unknown[] = [
      null,
      'str',
      [],
      { instanceId: 'x', connections: {}, traffic: {}, broker: {} },
      { instanceId: 'x', connections: { current: '9' }, traffic: { messages: null }, broker: {}, channels: 'abc', sources: 'zz', parts: 5, delivery: [] },
      { ...worker('B', 1, 1, {}), delivery: undefined },
    ]
    for (const value of garbage) {
      const s = mergeSnapshots(a, { id: 1, pid: 11 }, { pid: 10, uptime: 5, workers: [{ id: 2, pid: 12, value }] })
      expect(s.connections.current).toBe(3)
      for (const view of [healthView, statsView, statusView]) expect(() => JSON.stringify(view(s))).not.toThrow()
      expect(healthView(s).workers).toEqual([expect.objectContaining({ id: 1, connections: 3 }), { id: 2, pid: 12, status: 'unreachable', error: 'malformed answer' }])
    }
  })

  it('clients: rows that are not client rows are left out, the others kept', () => {
    const row = (id: string, at: string) => ({ id, connected_at: at, remote_address: '127.0.0.1', subscriptions: [], user_id: null, authenticated: false })
    const own: ClientsSnapshot = { service: 'tests', clients: [row('c2', '2026-01-01T00:00:02Z')], channels: { x: 1 } }
    const other = { clients: [null, { id: 'c9', connected_at: 5 }, row('c1', '2026-01-01T00:00:01Z')], channels: { x: 1 } }
    const all = mergeClients(own, { id: 2, pid: 12 }, { pid: 10, uptime: 1, workers: [{ id: 1, pid: 11, value: other }] })
    expect(all.clients.map((c) => [c.id, c.worker])).toEqual([['c1', 1], ['c2', 2]])
    expect(() => JSON.stringify(infoView(all))).not.toThrow()
  })
})
