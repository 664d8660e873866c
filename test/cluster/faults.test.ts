import { Writable } from 'node:stream'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { SERVICES } from '../../services/index.js'
import { parseSettings, RedisBroker, type WebSocketServer } from '../../src/index.js'
import { type Frame, TestClient } from '../helpers/client.js'
import { brokerState, clusterFormed, startCluster, startPlain } from '../helpers/cluster.js'
import { TestRedis } from '../helpers/redis.js'
import { BACKENDS, useBackend } from '../helpers/redis-backends.js'
import { freePort } from '../helpers/supervisor.js'
import type { Started } from '../helpers/server.js'

const isStage = (f: Frame) => f.type === 'event' && f.event === 'workflow.stage_completed'

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> & { bridge: Record<string, unknown> } }> {
  const res = await fetch(url)
  return { status: res.status, body: (await res.json()) as never }
}

describe('Redis faults on one Redis', () => {
  let redis: TestRedis | null = null
  const clients: TestClient[] = []
  const servers: WebSocketServer[] = []
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()))
    await Promise.all(servers.splice(0).map((s) => s.close()))
    await redis?.kill()
    redis = null
  })
  it('starts standalone when Redis is unreachable, says so in its log and /health, and joins when Redis comes', async () => {
    const port = await freePort()
    const lines: string[] = []
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString()), done()) })
    const url = `redis://127.0.0.1:${port}`
    const settings = parseSettings({ port: 0, allow_client_publish: true, redis: { url } })
    const logger = pino({ level: 'info' }, sink)
    // A start timeout longer than the test: listen() resolving at all means a refused Redis
    // sent the instance standalone at once instead of waiting for it.
    const broker = new RedisBroker({ url, logger, startTimeoutMs: 600_000 })
    const server = SERVICES.workflow!.create(settings, { logger, broker })
    servers.push(server)
    await server.listen()
    expect(lines.join('')).toMatch(/redis unreachable at start: running standalone/)
    const health = await getJson(`http://127.0.0.1:${server.port}/health`)
    expect(health.status).toBe(200)
    expect(health.body.status).toBe('healthy')
    expect(health.body.bridge).toMatchObject({ kind: 'redis', state: 'degraded', instances: 1 })

    // Local clients are served meanwhile.
    const c = await TestClient.connect(`ws://127.0.0.1:${server.port}/ws`)
    clients.push(c)
    await c.subscribe('workflow:w1')
    await c.request('publish', { channel: 'workflow:w1', event: 'workflow.started', data: { workflow_id: 'w1' } })
    expect((await c.next((f) => f.event === 'workflow.started')).data).toEqual({ workflow_id: 'w1' })

    redis = await TestRedis.start(port)
    await brokerState(server, 'connected')
    expect((await getJson(`http://127.0.0.1:${server.port}/stats`)).body.bridge).toMatchObject({ state: 'connected' })
    expect(lines.join('')).toMatch(/redis is back/)
  })
})

describe.each(BACKENDS)('Redis faults on %s', (kind) => {
  const backend = useBackend(kind)
  let nodes: Started[] = []
  const clients: TestClient[] = []
  const servers: WebSocketServer[] = []
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()))
    await Promise.all([...nodes.map((n) => n.server), ...servers.splice(0)].map((s) => s.close()))
    nodes = []
    await backend.revive()
  })
  it('keeps local delivery going when Redis dies mid-stream and resumes cross-instance delivery when it is back', async () => {
    nodes = await startCluster('workflow', backend, 3, { allow_client_publish: true, message_rate_limit: 10_000, byte_rate_limit: 10_000_000 })
    const servers3 = nodes.map((n) => n.server)
    await clusterFormed(servers3)
    const [a, b, c] = await Promise.all(nodes.map((n) => TestClient.connect(n.url)))
    clients.push(a!, b!, c!)
    for (const x of [a!, b!, c!]) await x.subscribe('workflow:w1')
    const publish = (from: TestClient, stage: string) =>
      from.request('publish', { channel: 'workflow:w1', event: 'workflow.stage_completed', data: { workflow_id: 'w1', stage_name: stage } })
    const nextStage = async (x: TestClient) => String((await x.next(isStage)).data?.stage_name)
    const stream = Array.from({ length: 200 }, (_, i) => `s${i}`)

    // a streams 200 events; Redis is killed once b has received 50 of them.
    const streaming = (async () => {
      for (const stage of stream) expect((await publish(a!, stage)).type).toBe('response')
    })()
    for (let i = 0; i < 50; i++) expect(await nextStage(b!)).toBe(`s${i}`)
    const killedAt = Date.now()
    await backend.kill()
    await Promise.all(servers3.map((s) => brokerState(s, 'degraded')))
    const degradedMs = Date.now() - killedAt
    await streaming

    // a's own subscriber got the whole stream, in order: local delivery never stopped.
    const atA: string[] = []
    for (const _ of stream) atA.push(await nextStage(a!))
    expect(atA).toEqual(stream)
    // While Redis is down, b's own publication reaches b.
    await publish(b!, 'during-b')
    const health = await getJson(`${nodes[0]!.http}/health`)
    expect(health.status).toBe(200)
    expect(health.body.bridge).toMatchObject({ state: 'degraded' })
    expect(Number(health.body.bridge.dropped)).toBeGreaterThan(0)

    const restartedAt = Date.now()
    await backend.restart()
    await Promise.all(servers3.map((s) => brokerState(s, 'connected')))
    const resumedMs = Date.now() - restartedAt

    // The same sockets, no client action: delivery crosses instances again, both ways.
    await publish(a!, 'after-a')
    expect(await nextStage(a!)).toBe('after-a')
    // b and c got an unbroken prefix of the stream (what crossed before the kill), nothing twice.
    // (b already consumed the first 50.)
    for (const [x, from, own] of [[b!, 50, 'during-b'], [c!, 0, null]] as const) {
      const seen: string[] = []
      for (let s = await nextStage(x); s !== 'after-a'; s = await nextStage(x)) seen.push(s)
      const crossed = seen.filter((s) => s !== own)
      expect(crossed, seen.join(' ')).toEqual(stream.slice(from, from + crossed.length))
      if (own !== null) expect(seen.filter((s) => s === own)).toEqual([own])
    }
    await publish(c!, 'after-c')
    for (const x of [a!, b!, c!]) expect(await nextStage(x)).toBe('after-c')
    for (const x of [a!, b!, c!]) expect(x.pending.filter(isStage)).toEqual([])
    console.info(`${kind} killed → all 3 instances degraded in ${degradedMs} ms; restarted → all connected in ${resumedMs} ms`)
  })

  it('counts and drops malformed or invalid messages off Redis, and goes on delivering', async () => {
    nodes = await startCluster('workflow', backend, 2, { allow_client_publish: true })
    await clusterFormed(nodes.map((n) => n.server))
    const [a, b] = await Promise.all(nodes.map((n) => TestClient.connect(n.url)))
    clients.push(a!, b!)
    await a!.subscribe('workflow:w1')
    const { prefix } = nodes[0]!.server.settings.redis
    const raw = (bytes: string) => backend.rawPublish(prefix, 'workflow', 'workflow:w1', bytes)
    await raw('not json')
    await raw(JSON.stringify({ v: 1, type: 'publication', origin: 'x', pub: { id: 'e1', channel: 'workflow:w1' } }))
    await raw(JSON.stringify({ v: 2, type: 'shutdown', origin: 'x' }))
    // Well-formed cluster messages carrying what this service would refuse from a client.
    const pub = (channel: string, event: string, data: object) =>
      JSON.stringify({ v: 1, type: 'publication', origin: 'x', pub: { id: `e-${event}`, channel, event, data, timestamp: 'now' } })
    await raw(pub('workflow:w1', 'workflow.exploded', { workflow_id: 'w1' }))
    await raw(pub('workflow:w1', 'workflow.failed', { workflow_id: 'wX' }))
    await raw(pub('nowhere', 'workflow.started', { workflow_id: 'wY' }))
    // Published after the garbage, so it reaches a's instance after it.
    await b!.request('publish', { channel: 'workflow:w1', event: 'workflow.started', data: { workflow_id: 'w1' } })
    expect((await a!.next((f) => f.event === 'workflow.started')).data).toEqual({ workflow_id: 'w1' })
    expect(a!.pending).toEqual([])
    const stats = await getJson(`${nodes[0]!.http}/stats`)
    expect(stats.body.bridge).toMatchObject({ state: 'connected', malformed: 6, received: 1 })
    // Nothing refused reached the projection either.
    for (const id of ['wX', 'wY']) expect((await a!.request('get_workflow_status', { workflow_id: id })).data).toEqual({ workflow_id: id, status: 'not_found' })
  })
  it('subscribes rooms joined while Redis was down once it is back', async () => {
    const prefix = `rejoin-${Date.now()}:`
    const [a, b] = [await startPlain(backend, prefix), await startPlain(backend, prefix)]
    servers.push(a, b)
    await clusterFormed([a, b])
    const ca = await TestClient.connect(a.url)
    const cb = await TestClient.connect(b.url)
    clients.push(ca, cb)
    await backend.kill()
    await Promise.all([a, b].map((s) => brokerState(s, 'degraded')))
    expect((await ca.subscribe('room:late')).data?.status).toBe('subscribed')
    await backend.restart()
    await Promise.all([a, b].map((s) => brokerState(s, 'connected')))
    await cb.request('publish', { channel: 'room:late', event: 'note', data: { n: 1 } })
    expect((await ca.next((f) => f.event === 'note')).data).toEqual({ n: 1 })
  })
})
