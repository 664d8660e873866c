import { randomUUID } from 'node:crypto'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { SERVICES } from '../../services/index.js'
import { parseSettings, RedisBroker, RedisClusterBroker, type WebSocketServer } from '../../src/index.js'
import { TestClient } from '../helpers/client.js'
import { brokerState, clusterFormed } from '../helpers/cluster.js'
import { TestRedis } from '../helpers/redis.js'
import { cli, TestRedisCluster } from '../helpers/redis-cluster.js'
import { pollUntil } from '../helpers/supervisor.js'

// Issue 21 (chaos run on a Redis Cluster): was an instance that started while a master was
// stopped or killed left standalone (degraded) for good? These pin that it joins once the node
// is back or failed over, both ways of delivery. The failover cases failed about one run in four
// before the fix (degraded for good, or connected but deaf to the rooms of a shard): ioredis
// auto-pipelined the SSUBSCRIBEs (redis-cluster-transport.ts, docs/reliability.md).

let cluster: TestRedisCluster
beforeAll(async () => {
  cluster = await TestRedisCluster.start()
}, 90_000)
afterAll(async () => {
  await cluster?.stop()
})

describe('an instance started while the Redis Cluster is impaired', () => {
  const clients: TestClient[] = []
  const servers: WebSocketServer[] = []
  const stopped: number[] = []
  afterEach(async () => {
    for (const port of stopped.splice(0)) cluster.nodes.find((n) => n.port === port)?.proc.kill('SIGCONT')
    await Promise.all(clients.splice(0).map((c) => c.close()))
    await Promise.all(servers.splice(0).map((s) => s.close()))
  })

  const start = async (prefix: string, lines: string[] = []) => {
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString()), done()) })
    const logger = pino({ level: 'info' }, sink)
    const nodes = cluster.nodes.slice(0, 3).map((n) => ({ host: '127.0.0.1', port: n.port }))
    const settings = parseSettings({ port: 0, allow_client_publish: true, redis: { cluster: nodes.map((n) => `${n.host}:${n.port}`), prefix } })
    const broker = new RedisClusterBroker({ nodes, prefix, logger, startTimeoutMs: 500 })
    const server = SERVICES.workflow!.create(settings, { logger, broker })
    servers.push(server)
    await server.listen()
    return server
  }

  it.each<[string, 'stop' | 'stop-failover' | 'kill']>([
    ['stopped, resumes before a failover', 'stop'],
    ['stopped, resumes after its replica took over', 'stop-failover'],
    ['killed, restarts after its replica took over', 'kill'],
  ])('joins once a master %s: /health says connected, a publication on the other instance reaches its subscriber', async (_what, mode) => {
    const prefix = `rejoin-${randomUUID().slice(0, 8)}:`
    const a = await start(prefix)
    await brokerState(a, 'connected')
    const port = await cluster.masterOf(await cluster.slotOf('x'))
    const node = cluster.nodes.find((n) => n.port === port)!
    if (mode === 'kill') await cluster.kill(node.port)
    else {
      node.proc.kill('SIGSTOP')
      stopped.push(node.port)
    }
    const lines: string[] = []
    const b = await start(prefix, lines)
    expect(lines.join('')).toMatch(/redis-cluster unreachable at start: running standalone/)
    if (mode !== 'stop') await cluster.promotedFrom(node.port, await cluster.slotOf('x'))
    if (mode === 'kill') await cluster.restart(node.port)
    else node.proc.kill('SIGCONT')
    stopped.splice(0)
    await cluster.settled()
    await brokerState(b, 'connected', 30_000)
    const health = (await (await fetch(`http://127.0.0.1:${b.port}/health`)).json()) as { bridge: Record<string, unknown> }
    expect(health.bridge).toMatchObject({ state: 'connected' })
    await clusterFormed([a, b], 2)
    const watcher = await TestClient.connect(`ws://127.0.0.1:${b.port}/ws`)
    clients.push(watcher)
    await watcher.subscribe('workflow:w1')
    const publisher = await TestClient.connect(`ws://127.0.0.1:${a.port}/ws`)
    clients.push(publisher)
    await publisher.request('publish', { channel: 'workflow:w1', event: 'workflow.started', data: { workflow_id: 'w1' } })
    expect((await watcher.next((f) => f.event === 'workflow.started')).data).toEqual({ workflow_id: 'w1' })
    // And the other way: what the late instance publishes reaches a subscriber on the first one.
    const early = await TestClient.connect(`ws://127.0.0.1:${a.port}/ws`)
    clients.push(early)
    await early.subscribe('workflow:w2')
    const late = await TestClient.connect(`ws://127.0.0.1:${b.port}/ws`)
    clients.push(late)
    await late.request('publish', { channel: 'workflow:w2', event: 'workflow.started', data: { workflow_id: 'w2' } })
    expect((await early.next((f) => f.event === 'workflow.started')).data).toEqual({ workflow_id: 'w2' })
  }, 90_000)
})

describe('an instance started while a master and its replica are down (no failover)', () => {
  const clients: TestClient[] = []
  const servers: WebSocketServer[] = []
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()))
    await Promise.all(servers.splice(0).map((s) => s.close()))
  })

  // With cluster-require-full-coverage no the cluster stays `ok` without them, so the instance
  // connects, and its sharded subscribes on their slots fail until they are back: no reconnect
  // follows, and it stayed degraded for good when those subscribes were not tried again.
  it('connects once they are back: /health says connected, publications cross both ways', async () => {
    const prefix = `rejoin-${randomUUID().slice(0, 8)}:`
    const nodes = cluster.nodes.slice(0, 3).map((n) => ({ host: '127.0.0.1', port: n.port }))
    const start = async () => {
      const logger = pino({ level: 'silent' })
      const settings = parseSettings({ port: 0, allow_client_publish: true, redis: { cluster: nodes.map((n) => `${n.host}:${n.port}`), prefix } })
      const server = SERVICES.workflow!.create(settings, { logger, broker: new RedisClusterBroker({ nodes, prefix, logger, startTimeoutMs: 500 }) })
      servers.push(server)
      await server.listen()
      return server
    }
    const a = await start()
    await brokerState(a, 'connected')
    let master = 0
    let replica: number | null = null
    for (const s of [0, 5461, 10923]) {
      master = await cluster.masterOf(s)
      replica = await cluster.replicaOf(master)
      if (replica !== null) break
    }
    if (replica === null) throw new Error('no master with a live replica')
    const live = () => cluster.nodes.filter((n) => n.proc.exitCode === null && n.proc.signalCode === null)
    let b: WebSocketServer
    try {
      for (const n of live()) await cli(n.port, 'config', 'set', 'cluster-require-full-coverage', 'no')
      await cluster.kill(replica)
      await cluster.kill(master)
      // Until every live node has marked the master failed (it then stays so: no replica to promote).
      await pollUntil('the master marked failed', async () => {
        for (const n of live()) if (!(await cli(n.port, 'cluster', 'nodes')).split('\n').some((l) => l.includes(`:${master}@`) && /\bfail\b/.test(l))) return undefined
        return true
      }, { timeoutMs: 60_000, everyMs: 100 })
      b = await start()
      expect(b.broker.state).not.toBe('connected')
      // Until ioredis gives up on b's sharded subscribes there (it retries a command a few times
      // only). A probe connection of our own used to wait for the same refusal, without a bound:
      // it hung the test (120 s, no message) in a fresh-clone run on a quiet host.
      await brokerState(b, 'degraded', 60_000)
    } finally {
      await cluster.restart(master)
      await cluster.restart(replica)
      for (const n of live()) await cli(n.port, 'config', 'set', 'cluster-require-full-coverage', 'yes')
      await cluster.settled()
    }
    await brokerState(b, 'connected', 30_000)
    const health = (await (await fetch(`http://127.0.0.1:${b.port}/health`)).json()) as { bridge: Record<string, unknown> }
    expect(health.bridge).toMatchObject({ state: 'connected' })
    await clusterFormed([a, b], 2)
    for (const [from, to, id] of [[a, b, 'w1'], [b, a, 'w2']] as const) {
      const watcher = await TestClient.connect(`ws://127.0.0.1:${to.port}/ws`)
      clients.push(watcher)
      await watcher.subscribe(`workflow:${id}`)
      const publisher = await TestClient.connect(`ws://127.0.0.1:${from.port}/ws`)
      clients.push(publisher)
      await publisher.request('publish', { channel: `workflow:${id}`, event: 'workflow.started', data: { workflow_id: id } })
      expect((await watcher.next((f) => f.event === 'workflow.started')).data).toEqual({ workflow_id: id })
    }
  }, 240_000)
})

describe('an instance started while its one Redis hangs (parity)', () => {
  let redis: TestRedis | null = null
  const clients: TestClient[] = []
  const servers: WebSocketServer[] = []
  afterEach(async () => {
    redis?.pause(false)
    await Promise.all(clients.splice(0).map((c) => c.close()))
    await Promise.all(servers.splice(0).map((s) => s.close()))
    await redis?.kill()
    redis = null
  })

  it('joins once Redis answers again: /health says connected, publications cross both ways', async () => {
    redis = await TestRedis.start()
    const prefix = `rejoin-${randomUUID().slice(0, 8)}:`
    const start = async (lines: string[] = []) => {
      const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString()), done()) })
      const logger = pino({ level: 'info' }, sink)
      const settings = parseSettings({ port: 0, allow_client_publish: true, redis: { url: redis!.url, prefix } })
      const server = SERVICES.workflow!.create(settings, { logger, broker: new RedisBroker({ url: redis!.url, prefix, logger, startTimeoutMs: 500 }) })
      servers.push(server)
      await server.listen()
      return server
    }
    const a = await start()
    await brokerState(a, 'connected')
    redis.pause(true)
    const lines: string[] = []
    const b = await start(lines)
    expect(lines.join('')).toMatch(/redis unreachable at start: running standalone/)
    redis.pause(false)
    await brokerState(a, 'connected', 30_000)
    await brokerState(b, 'connected', 30_000)
    const health = (await (await fetch(`http://127.0.0.1:${b.port}/health`)).json()) as { bridge: Record<string, unknown> }
    expect(health.bridge).toMatchObject({ state: 'connected' })
    await clusterFormed([a, b], 2)
    for (const [from, to, id] of [[a, b, 'w1'], [b, a, 'w2']] as const) {
      const watcher = await TestClient.connect(`ws://127.0.0.1:${to.port}/ws`)
      clients.push(watcher)
      await watcher.subscribe(`workflow:${id}`)
      const publisher = await TestClient.connect(`ws://127.0.0.1:${from.port}/ws`)
      clients.push(publisher)
      await publisher.request('publish', { channel: `workflow:${id}`, event: 'workflow.started', data: { workflow_id: id } })
      expect((await watcher.next((f) => f.event === 'workflow.started')).data).toEqual({ workflow_id: id })
    }
  }, 90_000)
})
