import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { WebSocketServer } from '../../src/index.js'
import { type Frame, TestClient } from '../helpers/client.js'
import { clusterFormed, redisBrokerOf, startCluster, startPlain, until } from '../helpers/cluster.js'
import { TestRedis } from '../helpers/redis.js'
import { BACKENDS, useBackend } from '../helpers/redis-backends.js'
import type { Started } from '../helpers/server.js'

const isStage = (f: Frame) => f.type === 'event' && f.event === 'workflow.stage_completed'
const stageName = (f: Frame) => String(f.data?.stage_name)

/** Collects `workflow.stage_completed` frames until `count` arrived (as a user's client would). */
async function collect(c: TestClient, count: number): Promise<Frame[]> {
  const got: Frame[] = []
  while (got.length < count) got.push(await c.next(isStage))
  return got
}

describe.each(BACKENDS)('three instances of workflow on %s', (kind) => {
  const backend = useBackend(kind)
  let nodes: Started[] = []
  const clients: TestClient[] = []
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()))
    await Promise.all(nodes.map((n) => n.server.close()))
    nodes = []
  })

  it('delivers a publish on any instance to every subscriber on every instance exactly once, in order per publisher', async () => {
    nodes = await startCluster('workflow', backend, 3, { allow_client_publish: true })
    await clusterFormed(nodes.map((n) => n.server))
    // Two subscribers per instance; the first of each also publishes.
    const subs = await Promise.all(nodes.flatMap((n) => [TestClient.connect(n.url), TestClient.connect(n.url)]))
    clients.push(...subs)
    for (const c of subs) expect((await c.subscribe('workflow:w1')).data?.status).toBe('subscribed')
    const publishers = [subs[0]!, subs[2]!, subs[4]!]
    const perPublisher = 40
    const publishAll = (tag: string, from: number, to: number) =>
      Promise.all(
        publishers.map(async (p, k) => {
          for (let i = from; i < to; i++) {
            const res = await p.request('publish', { channel: 'workflow:w1', event: 'workflow.stage_completed', data: { workflow_id: 'w1', stage_name: `${tag}${k}-${i}` } })
            expect(res.type, JSON.stringify(res)).toBe('response')
          }
        }),
      )
    await publishAll('p', 0, perPublisher)
    const received = await Promise.all(subs.map((c) => collect(c, 3 * perPublisher)))
    // A fence from every instance, published after every subscriber has everything: any echo
    // delivered twice would have reached its subscriber before the fence of another instance.
    await publishAll('fence', 0, 1)
    const fences = await Promise.all(subs.map((c) => collect(c, 3)))
    for (const [i, got] of received.entries()) {
      const names = got.map(stageName)
      expect(new Set(names).size, `subscriber ${i}: duplicates`).toBe(names.length)
      expect(new Set(got.map((f) => f.id)).size).toBe(got.length)
      for (const k of [0, 1, 2]) {
        const mine = names.filter((n) => n.startsWith(`p${k}-`))
        expect(mine, `subscriber ${i}, publisher ${k}`).toEqual(Array.from({ length: perPublisher }, (_, j) => `p${k}-${j}`))
      }
      expect(fences[i]!.map(stageName).sort()).toEqual(['fence0-0', 'fence1-0', 'fence2-0'])
      expect(subs[i]!.pending.filter(isStage)).toEqual([])
    }
    // The same event carries the same id on every instance.
    const firstIds = received.map((got) => got.find((f) => stageName(f) === 'p1-0')?.id)
    expect(new Set(firstIds).size).toBe(1)
  })

  it('answers status requests on every instance from events published on any of them', async () => {
    nodes = await startCluster('workflow', backend, 3, { allow_client_publish: true })
    await clusterFormed(nodes.map((n) => n.server))
    const [a, b, c] = await Promise.all(nodes.map((n) => TestClient.connect(n.url)))
    clients.push(a!, b!, c!)
    // Nobody subscribes to workflow:w7: the projections must still see its events.
    await a!.request('publish', { channel: 'workflow:w7', event: 'workflow.started', data: { workflow_id: 'w7', total_stages: 2 } })
    await b!.request('publish', { channel: 'workflow:w7', event: 'workflow.stage_completed', data: { workflow_id: 'w7', stage_name: 'build' } })
    // A fence through Redis from c's instance: once it is back, a's and b's publications have reached c's.
    await c!.subscribe('global')
    await a!.request('publish', { channel: 'global', event: 'task.assigned', data: { task_id: 'fence' } })
    await b!.request('publish', { channel: 'global', event: 'task.assigned', data: { task_id: 'fence' } })
    await c!.next((f) => f.event === 'task.assigned')
    await c!.next((f) => f.event === 'task.assigned')
    const status = await c!.request('get_workflow_status', { workflow_id: 'w7' })
    expect(status.data).toMatchObject({ workflow_id: 'w7', status: 'running', stages_completed: 1, total_stages: 2 })
  })

  it('shows live instances and cluster-wide connections in /stats, and forgets an instance that leaves', async () => {
    nodes = await startCluster('workflow', backend, 3)
    await clusterFormed(nodes.map((n) => n.server))
    clients.push(await TestClient.connect(nodes[0]!.url), await TestClient.connect(nodes[1]!.url))
    // Connection counts travel with heartbeats: wait for one carrying them.
    const broker = redisBrokerOf(nodes[2]!.server)
    await until(broker, 'peers', () => broker.stats().clusterConnections === 2)
    const stats = (await (await fetch(`${nodes[2]!.http}/stats`)).json()) as { bridge: Record<string, unknown> }
    expect(stats.bridge).toMatchObject({ kind, state: 'connected', instances: 3, clusterConnections: 2, malformed: 0 })
    const leaving = nodes.pop()!
    await leaving.server.close()
    await clusterFormed(nodes.map((n) => n.server), 2)
    const health = (await (await fetch(`${nodes[0]!.http}/health`)).json()) as { bridge: Record<string, unknown> }
    expect(health.bridge).toMatchObject({ state: 'connected', instances: 2 })
  })
  it('sends POST /send to a connection on whichever instance holds it, and answers 404 when none does', async () => {
    // A direct timeout longer than the test: a 404 can only come from every peer saying "not here".
    nodes = await startCluster('workflow', backend, 3, {}, { directTimeoutMs: 600_000 })
    await clusterFormed(nodes.map((n) => n.server))
    const b = await TestClient.connect(nodes[1]!.url)
    clients.push(b)
    const id = [...nodes[1]!.server.connections()][0]!.id
    const send = (node: Started, connection_id: string) =>
      fetch(`${node.http}/send`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ connection_id, event: 'notice', data: { text: connection_id.slice(0, 4) } }),
      })
    const remote = await send(nodes[0]!, id)
    expect(remote.status).toBe(200)
    expect(await remote.json()).toEqual({ delivered: true, forwarded: true })
    expect((await b.next((f) => f.event === 'notice')).data).toEqual({ text: id.slice(0, 4) })
    const local = await send(nodes[1]!, id)
    expect(await local.json()).toEqual({ delivered: true, forwarded: false })
    await b.next((f) => f.event === 'notice')
    const missing = await send(nodes[2]!, '00000000-0000-4000-8000-000000000000')
    expect(missing.status).toBe(404)
    expect(await missing.json()).toMatchObject({ code: 'NOT_FOUND' })
    expect(b.pending).toEqual([])
  })
})

describe('a service without a projection', () => {
  let redis: TestRedis
  beforeAll(async () => {
    redis = await TestRedis.start()
  })
  afterAll(async () => redis?.kill())
  const servers: (WebSocketServer & { url: string })[] = []
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()))
  })

  it("subscribes a room's Redis channel on its first local member and drops it on the last", async () => {
    const prefix = `plain-${Date.now()}:`
    for (let i = 0; i < 2; i++) servers.push(await startPlain(redis.url, prefix))
    const probe = new Redis(redis.url)
    const channels = () => probe.pubsub('CHANNELS', `${prefix}plain:room:*`) as Promise<string[]>
    try {
      const a1 = await TestClient.connect(servers[0]!.url)
      const a2 = await TestClient.connect(servers[0]!.url)
      const b = await TestClient.connect(servers[1]!.url)
      expect(await channels()).toEqual([])
      await a1.subscribe('room:1')
      await a2.subscribe('room:1')
      expect(await channels()).toEqual([`${prefix}plain:room:room:1`])
      expect(await probe.pubsub('NUMSUB', `${prefix}plain:room:room:1`)).toEqual([`${prefix}plain:room:room:1`, 1])
      await b.request('publish', { channel: 'room:1', event: 'note', data: { text: 'across' } })
      for (const c of [a1, a2]) expect((await c.next((f) => f.event === 'note')).data).toEqual({ text: 'across' })
      await a1.request('unsubscribe', { channel: 'room:1' })
      expect(await channels()).toEqual([`${prefix}plain:room:room:1`])
      const left = new Promise<void>((resolve) => servers[0]!.onDisconnect(() => resolve()))
      await a2.close()
      // The last member left once the server processed the close; then Redis sees the UNSUBSCRIBE
      // (sent on another connection than the probe's, hence the re-check).
      await left
      while ((await channels()).length > 0) await probe.ping()
      await a1.close()
      await b.close()
    } finally {
      probe.disconnect()
    }
  })

  it('answers a subscribe once Redis has confirmed the room, so a publish anywhere right after reaches it', async () => {
    const prefix = `paused-${Date.now()}:`
    for (let i = 0; i < 2; i++) servers.push(await startPlain(redis.url, prefix))
    const a = await TestClient.connect(servers[0]!.url)
    const b = await TestClient.connect(servers[1]!.url)
    const probe = new Redis(redis.url)
    try {
      // Redis holds every command for 300 ms: the room's SUBSCRIBE among them. The clock starts
      // before the pause is even sent, so a busy machine can only make the wait look longer.
      const asked = Date.now()
      await probe.call('CLIENT', 'PAUSE', '300', 'ALL')
      expect((await a.subscribe('room:p')).data?.status).toBe('subscribed')
      expect(Date.now() - asked).toBeGreaterThanOrEqual(290)
      await b.request('publish', { channel: 'room:p', event: 'note', data: { n: 1 } })
      expect((await a.next((f) => f.event === 'note')).data).toEqual({ n: 1 })
    } finally {
      probe.disconnect()
      await a.close()
      await b.close()
    }
  })
})
