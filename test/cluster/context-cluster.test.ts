import { randomUUID } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { ContextServer } from '../../services/context/index.js'
import type { Frame } from '../helpers/client.js'
import { CliProcess } from '../helpers/cli.js'
import { clusterFormed, startCluster } from '../helpers/cluster.js'
import { FlatClient } from '../helpers/flat.js'
import { HoldingBackend } from '../helpers/holding-backend.js'
import { BACKENDS, useBackend } from '../helpers/redis-backends.js'
import { type Started, startService } from '../helpers/server.js'

const clients: FlatClient[] = []
const procs: CliProcess[] = []
let nodes: Started<ContextServer>[] = []
let holding: HoldingBackend | null = null
afterEach(async () => {
  holding?.release()
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await Promise.all(nodes.map((n) => n.server.close()))
  nodes = []
  await holding?.close()
  holding = null
  await Promise.all(procs.splice(0).map((p) => p.stop()))
})

async function open(port: number, query: Record<string, string> = {}): Promise<FlatClient> {
  const c = await FlatClient.open(`ws://127.0.0.1:${port}/`, query)
  clients.push(c)
  return c
}

describe.each(BACKENDS)('context over %s: two instances', (kind) => {
  const backend = useBackend(kind)
  it('an agent’s subscriptions made on one instance are restored on the other', async () => {
    nodes = await startCluster<ContextServer>('context', backend, 2, { allow_client_publish: true })
    await clusterFormed(nodes.map((n) => n.server))
    const [a, b] = nodes as [Started<ContextServer>, Started<ContextServer>]
    const first = await open(a.port, { agent_id: 'roamer' })
    expect(await first.subscribeFlat('topics/ops')).toMatchObject({ success: true })
    await first.close()
    const restored = new Promise<string[]>((resolve) => b.server.restore.once('restored', (_c, ch: string[]) => resolve(ch)))
    const second = await open(b.port, { agent_id: 'roamer' })
    expect(await restored).toContain('topics/ops')
    // Published on the first instance, delivered on the second through the restored subscription.
    const publisher = await open(a.port)
    await publisher.publishFlat('topics/ops', 'task.updated', { task_id: 'x', status: 'running' })
    expect((await second.event('task.updated', 'topics/ops')).data).toEqual({ task_id: 'x', status: 'running' })
  })

  /** Two context instances of one cluster: a reaches Redis through proxies (`holding`) that can hold its commands, b goes straight. */
  async function pairWithHeldA(): Promise<[Started<ContextServer>, Started<ContextServer>, HoldingBackend]> {
    const held = (holding = await HoldingBackend.start(backend))
    const prefix = `restore-${randomUUID().slice(0, 8)}:`
    nodes.push(await startService<ContextServer>('context', { redis: held.settings(prefix) }))
    nodes.push(await startService<ContextServer>('context', { redis: backend.settings(prefix) }))
    const [a, b] = nodes as [Started<ContextServer>, Started<ContextServer>]
    await clusterFormed([a.server, b.server])
    return [a, b, held]
  }

  it('an agent told `success` that reconnects elsewhere at once finds the subscription, however late its save reaches Redis', async () => {
    // Instance a reaches Redis through proxies that hold a's save of the subscription; b goes straight.
    const [a, b, held] = await pairWithHeldA()
    const first = await open(a.port, { agent_id: 'roamer' })
    held.arm(/restore:roamer[\s\S]*topics\/ops/)
    const answers = () => a.server.stats.outByType.get('response') ?? 0
    const before = answers()
    const answer = first.subscribeFlat('topics/ops')
    // The save is held, and the broker confirmed the room: nothing else holds the answer back.
    await held.held
    await a.server.broker.whenSubscribed('topics/ops')
    await new Promise((resolve) => setImmediate(resolve))
    // Before the fix a answered here, its save still on the way: b read the agent's old channels.
    const early = answers() > before
    if (!early) held.release()
    expect(await answer).toMatchObject({ success: true })
    await first.close()
    const restored = new Promise<string[]>((resolve) => b.server.restore.once('restored', (_c, ch: string[]) => resolve(ch)))
    await open(b.port, { agent_id: 'roamer' })
    const channels = await restored
    held.release()
    expect({ early, channels }).toEqual({ early: false, channels: expect.arrayContaining(['topics/ops']) })
  })

  it('a burst of subscribe/unsubscribe while Redis does not answer: one save in flight per connection, its last channels saved once Redis answers', async () => {
    const [a, b, held] = await pairWithHeldA()
    // a's saves as they reach its store: how many are on their way to Redis at once.
    const store = a.server.cluster.restore
    const save = store.save.bind(store)
    let inFlight = 0
    let most = 0
    let settled: (() => void) | null = null
    const idle = () => (inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => (settled = resolve)))
    store.save = async (agent, channels) => {
      most = Math.max(most, ++inFlight)
      try {
        await save(agent, channels)
      } finally {
        if (--inFlight === 0) settled?.()
      }
    }
    const arrived = new Promise((resolve) => a.server.restore.once('restored', resolve))
    const first = await open(a.port, { agent_id: 'toggler' })
    await arrived
    await idle()
    most = 0
    // Redis stops answering a's saves (a hung Redis); the client toggles a channel 40 times, then joins another.
    held.arm(/restore:toggler/)
    const n = 40
    for (let i = 0; i < n; i++) first.send({ type: i % 2 === 0 ? 'subscribe' : 'unsubscribe', channel: 'topics/t', id: `t${i}` })
    first.send({ type: 'subscribe', channel: 'topics/last', id: 'last' })
    for (let i = 0; i < n; i++) expect(await first.next((f) => f.type === 'ack' && f.id === `t${i}`)).toMatchObject({ success: true })
    expect(await first.next((f) => f.type === 'ack' && f.id === 'last')).toMatchObject({ success: true })
    // Before the fix every request started a save of its own, all of them queued in a's process.
    const queued = most
    held.release()
    await idle()
    await first.close()
    await idle()
    const restored = new Promise<string[]>((resolve) => b.server.restore.once('restored', (_c, ch: string[]) => resolve(ch)))
    await open(b.port, { agent_id: 'toggler' })
    const channels = await restored
    expect({ queued, last: channels.includes('topics/last'), toggled: channels.includes('topics/t') }).toEqual({ queued: 1, last: true, toggled: false })
  })

  it('POST /publish counts the subscribers the other instance delivered to, like every service', async () => {
    nodes = await startCluster<ContextServer>('context', backend, 2)
    await clusterFormed(nodes.map((n) => n.server))
    const [a, b] = nodes as [Started<ContextServer>, Started<ContextServer>]
    const remote = [await open(b.port, { agent_id: 'r1' }), await open(b.port, { agent_id: 'r2' })]
    for (const c of remote) expect(await c.subscribeFlat('topics/ops')).toMatchObject({ success: true })
    const res = await fetch(`${a.http}/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'topics/ops', event: 'task.updated', data: { task_id: 'x', status: 'running' } }),
    })
    expect(res.status).toBe(200)
    // Each remote subscriber once (it also holds `global`, which mirrors topics/), reported by b.
    expect(await res.json()).toMatchObject({ delivered: 2, instances: 2 })
    for (const c of remote) expect((await c.event('task.updated', 'topics/ops')).data).toEqual({ task_id: 'x', status: 'running' })
  })

  it('one metric.update publisher per cluster, cluster-wide figures; another instance takes over when it is killed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roomcast-ctx-'))
    writeFileSync(join(dir, 'context.yaml'), 'port: 0\nmcp:\n  enabled: false\ncontext:\n  metrics_interval: 0.5\n')
    const env = { ROOMCAST_SETTINGS_DIR: dir, ...backend.env(), REDIS_PUBSUB_PREFIX: `m-${process.pid}-${Date.now()}:` }
    const procA = new CliProcess(['serve', 'context'], env)
    const procB = new CliProcess(['serve', 'context'], env)
    procs.push(procA, procB)
    const ports = [await procA.port('context'), await procB.port('context')]
    const subs = [await open(ports[0]!, { agent_id: 'watch-a' }), await open(ports[1]!, { agent_id: 'watch-b' })]
    for (const c of subs) await c.subscribeFlat('metrics')
    const snapshot = (c: FlatClient, pred: (d: Record<string, unknown>) => boolean = () => true) =>
      c.next((f: Frame) => f.event === 'metric.update' && pred(f.data ?? {}), 15_000).then((f) => f.data as Record<string, unknown>)
    // Both instances report: the figures are the cluster's (2 instances, 2 agents). active_agents
    // comes from the presence book (as agent.connected does), the rest from the instances' reports.
    const full = await snapshot(subs[0]!, (d) => d.instances === 2 && d.active_agents === 2 && d.connected_clients === 2)
    expect(full).toMatchObject({ connected_clients: 2, active_agents: 2, instances: 2 })
    // One publisher: two would alternate (7 changes in 8 snapshots). The lock outlives a publisher by
    // 3 intervals (1.5 s), so a stall past that on a busy host hands it over: one change, rarely two.
    const order: unknown[] = []
    for (let i = 0; i < 8; i++) order.push((await snapshot(subs[0]!)).publisher)
    expect(order.slice(1).filter((p, i) => p !== order[i]).length, JSON.stringify(order)).toBeLessThanOrEqual(2)
    const holder = order[order.length - 1]
    const holderIdx = await fetch(`http://127.0.0.1:${ports[0]}/health`).then(async (r) => ((await r.json()) as { instance_id: string }).instance_id === holder ? 0 : 1)
    const survivor = subs[1 - holderIdx]!
    await [procA, procB][holderIdx]!.signal('SIGKILL')
    // The killed instance's agent leaves the presence book once its heartbeats expire (docs/protocol.md A.10).
    const after = await snapshot(survivor, (d) => d.publisher !== holder && d.instances === 1 && d.active_agents === 1)
    expect(after).toMatchObject({ instances: 1, connected_clients: 1, active_agents: 1 })
    // Two process starts, then up to 8 s for the killed instance's heartbeats to expire.
  }, 45_000)
})
