import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { randomUUID } from 'node:crypto'
import type { SettingsInput, WebSocketServer } from '../../src/index.js'
import { type Frame, TestClient } from '../helpers/client.js'
import { brokerState, clusterFormed, startCluster } from '../helpers/cluster.js'
import { callErr, httpClient, startObserved } from '../helpers/observed.js'
import { TestRedis } from '../helpers/redis.js'
import { BACKENDS, useBackend } from '../helpers/redis-backends.js'
import type { Started } from '../helpers/server.js'

const HISTORY: SettingsInput = { allow_client_publish: true, message_rate_limit: 100_000, byte_rate_limit: 100_000_000, history: [{ channel: 'workflow:*', size: 10_000, ttl: 300 }] }
const isStarted = (f: Frame) => f.type === 'event' && f.event === 'workflow.started'

async function offsets(c: TestClient, count: number): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < count; i++) out.push((await c.next(isStarted)).offset as number)
  return out
}

const consecutive = (o: number[], from: number, to: number) => expect(o).toEqual(Array.from({ length: to - from + 1 }, (_, i) => from + i))

async function postPublish(http: string, channel: string, n: number): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${http}/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ channel, event: 'workflow.started', data: { workflow_id: 'w1', n } }),
  })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

describe.each(BACKENDS)('history across instances on %s', (kind) => {
  const backend = useBackend(kind)
  let nodes: Started[] = []
  const others: WebSocketServer[] = []
  const clients: TestClient[] = []
  const connect = async (node: Started) => {
    const c = await TestClient.connect(node.url)
    clients.push(c)
    return c
  }
  const publish = (node: Started, n: number) => node.server.publish('workflow:w1', 'workflow.started', { workflow_id: 'w1', n })
  const closeAll = async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()))
    await Promise.all([...nodes.map((n) => n.server), ...others.splice(0)].map((s) => s.close()))
    nodes = []
  }
  afterEach(async () => {
    await closeAll()
    await backend.revive()
  })
  it('numbers one stream across instances, recovers on either, and survives a storm from both during the replays', async () => {
    nodes = await startCluster('workflow', backend, 2, HISTORY)
    const [a, b] = nodes as [Started, Started]
    await clusterFormed([a.server, b.server])
    const watcher = await connect(a)
    const epoch = (await watcher.subscribe('workflow:w1')).data!.epoch as string
    for (let n = 1; n <= 20; n++) await Promise.all([publish(a, n), publish(b, n)])
    // One stream for both publishers: a subscriber sees 1…40 in order, whoever published.
    consecutive(await offsets(watcher, 40), 1, 40)

    const late = await connect(b)
    expect((await late.request('subscribe', { channel: 'workflow:w1', since: { offset: 10, epoch } })).data).toMatchObject({ recovered: true, offset: 40, epoch })
    consecutive(await offsets(late, 30), 11, 40)

    let storm = true
    let published = 40
    const stormFrom = (node: Started) =>
      (async () => {
        while (storm) {
          await Promise.all([publish(node, 0), publish(node, 0)])
          published += 2
        }
      })()
    const storms = [stormFrom(a), stormFrom(b)]
    const racers = await Promise.all([a, b, a, b, a, b].map((n) => connect(n)))
    const answers = await Promise.all(racers.map((r, i) => r.request('subscribe', { channel: 'workflow:w1', since: { offset: i * 6, epoch } })))
    storm = false
    await Promise.all(storms)
    for (const x of answers) expect(x.data).toMatchObject({ recovered: true, epoch })
    for (const [i, r] of racers.entries()) consecutive(await offsets(r, published - i * 6), i * 6 + 1, published)
    consecutive(await offsets(watcher, published - 40), 41, published)
    await Promise.all([...racers, watcher].map((r) => r.alive()))
    for (const r of [...racers, watcher]) expect(r.pending.filter(isStarted)).toEqual([])
  })

  it('refuses a history publication Redis cannot store on every path; other channels stay best effort', async () => {
    const prefix = `refuse-${randomUUID().slice(0, 8)}:`
    const node = await startObserved('workflow', { ...HISTORY, redis: backend.settings(prefix) }, { broker: backend.broker(prefix, { historyTimeoutMs: 500 }) })
    others.push(node.server)
    const c = await TestClient.connect(node.url)
    clients.push(c)
    await c.subscribe('workflow:w1')
    await backend.kill()
    await brokerState(node.server, 'degraded')

    const http = await postPublish(node.http, 'workflow:w1', 1)
    expect(http.status).toBe(503)
    expect(http.body).toMatchObject({ code: 'BROKER_UNAVAILABLE' })
    const frame = await c.request('publish', { channel: 'workflow:w1', event: 'workflow.started', data: { workflow_id: 'w1' } })
    expect(frame).toMatchObject({ type: 'error', error_code: 'BROKER_UNAVAILABLE' })
    const mcp = await httpClient(node.mcpUrl)
    expect(await callErr(mcp, 'ws_publish', { channel: 'workflow:w1', event: 'workflow.started', data: { workflow_id: 'w1' } })).toMatch(/^BROKER_UNAVAILABLE: /)
    await mcp.close()
    await expect(node.server.publish('workflow:w1', 'workflow.started', { workflow_id: 'w1' })).rejects.toMatchObject({ code: 'BROKER_UNAVAILABLE' })
    // Subscribing still works while the store is away; the position is unknown, so nothing is recovered.
    const away = await c.request('subscribe', { channel: 'workflow:w2', since: { offset: 3, epoch: 'e' } })
    expect(away.data).toEqual({ status: 'subscribed', channel: 'workflow:w2', recovered: false, offset: null, epoch: null })
    // Refused means delivered to no one, not even locally.
    await c.alive()
    expect(c.pending.filter(isStarted)).toEqual([])
    expect(node.server.broker.stats()).toMatchObject({ refused: 4 })

    // A channel without history: delivered locally, 200, as before.
    await c.subscribe('pool:p1')
    const pool = await fetch(`${node.http}/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'pool:p1', event: 'pool.status_changed', data: { pool_id: 'p1', status: 'busy' } }),
    })
    expect(pool.status).toBe(200)
    expect(await pool.json()).toMatchObject({ delivered: 1, instances: 1 })
  })

  it('POST /publish says how many instances and subscribers it reached, wherever they are', async () => {
    nodes = await startCluster('workflow', backend, 3, HISTORY)
    await clusterFormed(nodes.map((n) => n.server))
    const remote = [await connect(nodes[1]!), await connect(nodes[2]!), await connect(nodes[2]!)]
    for (const c of remote) {
      await c.subscribe('pool:p1')
      await c.subscribe('workflow:w1')
    }
    const res = await fetch(`${nodes[0]!.http}/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'pool:p1', event: 'pool.status_changed', data: { pool_id: 'p1', status: 'busy' } }),
    })
    // The workflow service keeps a projection, so every instance listens to every room: 3 reached,
    // and the other two report the subscribers they delivered to.
    expect(await res.json()).toMatchObject({ delivered: 3, instances: 3 })
    const history = await postPublish(nodes[0]!.http, 'workflow:w1', 1)
    expect(history.body).toMatchObject({ delivered: 3, instances: 3, offset: 1 })
    for (const c of remote) expect((await c.next(isStarted)).offset).toBe(1)
  })
})

describe('history across instances over one Redis', () => {
  let redis: TestRedis | null = null
  let nodes: Started[] = []
  const others: WebSocketServer[] = []
  const clients: TestClient[] = []
  const connect = async (node: Started) => {
    const c = await TestClient.connect(node.url)
    clients.push(c)
    return c
  }
  const publish = (node: Started, n: number) => node.server.publish('workflow:w1', 'workflow.started', { workflow_id: 'w1', n })
  const closeAll = async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()))
    await Promise.all([...nodes.map((n) => n.server), ...others.splice(0)].map((s) => s.close()))
    nodes = []
  }
  afterEach(async () => {
    await closeAll()
    await redis?.kill()
    redis = null
  })
  it('changes the epoch after FLUSHALL and after a restart without persistence: recovered false', async () => {
    redis = await TestRedis.start()
    nodes = await startCluster('workflow', redis.url, 2, HISTORY)
    const [a, b] = nodes as [Started, Started]
    const c = await connect(b)
    const before = (await c.subscribe('workflow:w1')).data!.epoch as string
    for (let n = 1; n <= 3; n++) await publish(a, n)
    await offsets(c, 3)
    const raw = new Redis(redis.url)
    await raw.flushall()
    raw.disconnect()
    const flushed = await c.request('subscribe', { channel: 'workflow:w1', since: { offset: 3, epoch: before } })
    expect(flushed.data).toMatchObject({ recovered: false, offset: 0 })
    const afterFlush = flushed.data!.epoch as string
    expect(afterFlush).not.toBe(before)
    expect((await publish(a, 4)).pub.position).toEqual({ offset: 1, epoch: afterFlush })
    expect((await c.next(isStarted)).epoch).toBe(afterFlush)

    await redis.kill()
    await redis.restart()
    await Promise.all([a, b].map((n) => brokerState(n.server, 'connected', 10_000)))
    const restarted = await c.request('subscribe', { channel: 'workflow:w1', since: { offset: 1, epoch: afterFlush } })
    expect(restarted.data).toMatchObject({ recovered: false, offset: 0 })
    expect(restarted.data!.epoch).not.toBe(afterFlush)
  })

  it('Redis killed for 2 s under a publish stream: every accepted event is recovered, every refused one was told', async () => {
    redis = await TestRedis.start(undefined, { persistent: true })
    nodes = await startCluster('workflow', redis.url, 2, HISTORY)
    const [a, b] = nodes as [Started, Started]
    await clusterFormed([a.server, b.server])
    const sub = await connect(b)
    const epoch = (await sub.subscribe('workflow:w1')).data!.epoch as string
    const accepted = new Map<string, number>()
    const refused = new Set<string>()
    const other: number[] = []
    let n = 0
    const publish = async () => {
      const { status, body } = await postPublish(a.http, 'workflow:w1', ++n)
      if (status === 200) accepted.set(String(body.id), body.offset as number)
      else if (status === 503 && body.code === 'BROKER_UNAVAILABLE') refused.add(String(n))
      else other.push(status)
    }
    while (n < 200) await publish()
    await redis.kill()
    // Redis away for 2 s; publishes fail fast then, so they are paced to span the outage.
    const killedAt = Date.now()
    while (Date.now() - killedAt < 2000) {
      await publish()
      await new Promise((r) => setTimeout(r, 5))
    }
    await redis.restart()
    // Both instances back on Redis (b reads the history from it; a subscribe meanwhile is answered recovered:false).
    await expect.poll(() => [a.server.broker.state, b.server.broker.state], { timeout: 30_000 }).toEqual(['connected', 'connected'])
    for (let i = 0; i < 200; i++) await publish()
    expect(other).toEqual([])
    expect(refused.size).toBeGreaterThan(0)
    expect(accepted.size + refused.size).toBe(n)
    expect(accepted.size).toBeGreaterThanOrEqual(400)

    // What reached the subscriber live: a consecutive prefix, maybe a gap around the outage.
    const live: Frame[] = []
    await sub.alive()
    for (const f of sub.pending.filter(isStarted)) live.push(f)
    let prefix = 0
    for (const f of live) {
      if (f.offset !== prefix + 1 || f.epoch !== epoch) break
      prefix++
    }
    // It recovers from the end of that prefix with since, as a client that saw a gap does.
    const fresh = await connect(b)
    const answer = await fresh.request('subscribe', { channel: 'workflow:w1', since: { offset: prefix, epoch } })
    expect(answer.data).toMatchObject({ recovered: true, epoch })
    const top = answer.data!.offset as number
    const replay: Frame[] = []
    for (let i = prefix; i < top; i++) replay.push(await fresh.next(isStarted))
    const seen = [...live.slice(0, prefix), ...replay]
    const ids = seen.map((f) => String(f.id))
    expect(new Set(ids).size).toBe(ids.length)
    const lost = [...accepted.keys()].filter((id) => !ids.includes(id))
    expect(lost).toEqual([])
    consecutive(seen.map((f) => f.offset as number), 1, top)
    // An event refused while its script may still have run (sent just before the crash) can exist; none other can.
    const phantoms = seen.filter((f) => !accepted.has(String(f.id)) && !refused.has(String(f.data!.n)))
    expect(phantoms).toEqual([])
    console.info(`redis kill: ${accepted.size} accepted, ${refused.size} refused (BROKER_UNAVAILABLE), ${live.length} live at b (prefix ${prefix}), recovered ${replay.length}, lost ${lost.length}`)
  }, 60_000)
})
