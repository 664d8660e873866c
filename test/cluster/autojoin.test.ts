import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { FlatVerifier } from '../../src/dialects/index.js'
import type { SettingsInput } from '../../src/index.js'
import { FlatTestServer } from '../fixtures/flat-service.js'
import { type Frame, TestClient } from '../helpers/client.js'
import { clusterFormed } from '../helpers/cluster.js'
import { HoldingRedis } from '../helpers/holding-redis.js'
import { RawWsClient } from '../helpers/raw-ws.js'
import { TestRedis } from '../helpers/redis.js'
import { type Started, startServer } from '../helpers/server.js'
import { deliveryStats, startTracked } from '../helpers/tracked-service.js'

/**
 * The joins the server makes on its own — the auto-subscribe channels after the welcome, the
 * identity channels (and, on a locked service, the auto-subscribe channels) after the auth
 * answer — keep a subscribe's promise (docs/protocol.md A.2, B): every event published anywhere
 * after the welcome (or the auth answer) reaches the client, also on an instance whose broker
 * has not subscribed the room yet.
 *
 * Instance A reaches Redis through a proxy that holds A's SUBSCRIBE until the test releases it:
 * before the fix A welcomed (or answered) at once, an event published on instance B then reached
 * Redis before A's subscribe did, and A never got it.
 */

/** Safety timeout of one wait: far above what a frame takes on a busy host (measured well under 100 ms). */
const SAFETY_MS = 15_000

let redis: TestRedis
let proxy: HoldingRedis
const servers: Started<FlatTestServer>[] = []
const clients: TestClient[] = []

beforeAll(async () => {
  redis = await TestRedis.start()
})
afterAll(async () => {
  await redis.kill()
})
afterEach(async () => {
  proxy.release()
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await Promise.all(servers.splice(0).map((s) => s.server.close()))
  await proxy.close()
})

/** Instances A (through the holding proxy) and B (straight to Redis) of one flat service, sharing a prefix. */
async function twoInstances(settings: SettingsInput = {}): Promise<[Started<FlatTestServer>, Started<FlatTestServer>]> {
  proxy = await HoldingRedis.start(redis)
  const prefix = `autojoin-${randomUUID().slice(0, 8)}:`
  const start = (url: string) => startServer((s, o) => new FlatTestServer(s, o), { ...settings, redis: { url, prefix } })
  const a = await start(proxy.url)
  servers.push(a)
  const b = await start(redis.url)
  servers.push(b)
  await clusterFormed([a.server, b.server])
  return [a, b]
}

async function open(url: string): Promise<TestClient> {
  const c = new TestClient(url)
  clients.push(c)
  await once(c.ws, 'open')
  return c
}

async function publish(at: Started<FlatTestServer>, channel: string, content: string): Promise<void> {
  const res = await fetch(`${at.http}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channel, event: 'message.new', data: { content } }) })
  expect(res.status).toBe(200)
}

const outCount = (s: Started<FlatTestServer>, type: string) => s.server.stats.outByType.get(type) ?? 0
const isEvent = (channel: string) => (f: Frame) => f.type === 'event' && f.channel === channel

/**
 * The promise on `channel`, whose subscribe A's broker sends (and the proxy holds) once `answer`
 * is asked for: A's answer frame is `answered` (the welcome, or the auth ack). When A sent it
 * while its subscribe was held, an event B publishes after the client read it must still come.
 */
async function expectEveryEventAfter(
  a: Started<FlatTestServer>,
  b: Started<FlatTestServer>,
  c: TestClient,
  channel: string,
  sentBefore: () => boolean,
  answered: Promise<Frame>,
): Promise<void> {
  await proxy.held
  // A's broker sent its SUBSCRIBE (held): did A answer before Redis confirmed it?
  const early = sentBefore()
  if (early) {
    await answered
    await publish(b, channel, 'first')
  }
  proxy.release()
  await answered
  if (!early) await publish(b, channel, 'first')
  // A subscribe request answers once A's broker confirmed the room: from then on B's events reach A.
  const id = `sub-${randomUUID().slice(0, 8)}`
  c.send({ type: 'subscribe', channel, id })
  await c.next((f) => f.type === 'ack' && f.id === id, SAFETY_MS)
  await publish(b, channel, 'second')
  const got: unknown[] = []
  for (;;) {
    const content = ((await c.next(isEvent(channel), SAFETY_MS)).data as { content: string }).content
    got.push(content)
    if (content === 'second') break
  }
  expect({ early, got }).toEqual({ early, got: ['first', 'second'] })
}

describe('joins made by the server wait for the broker like a subscribe (over Redis)', () => {
  it('an auto-subscribe channel: every event published after the welcome reaches the client', async () => {
    const [a, b] = await twoInstances()
    proxy.arm()
    const c = await open(a.url)
    const welcome = c.next((f) => f.type === 'connected', SAFETY_MS)
    await expectEveryEventAfter(a, b, c, 'global', () => outCount(a, 'welcome') > 0, welcome)
  })

  it('an identity channel: every event published after the auth answer reaches the client', async () => {
    const [a, b] = await twoInstances()
    const c = await open(a.url)
    // `global` confirmed (a subscribe answers once it is): the auth's join is the only subscribe left to hold.
    await c.next((f) => f.type === 'connected', SAFETY_MS)
    c.send({ type: 'subscribe', channel: 'global', id: 'sub-global' })
    await c.next((f) => f.type === 'ack' && f.id === 'sub-global', SAFETY_MS)
    proxy.arm()
    const before = outCount(a, 'response')
    c.send({ type: 'auth', agent_id: 'alice', id: 'auth-1' })
    const ack = c.next((f) => f.type === 'ack' && f.id === 'auth-1', SAFETY_MS)
    await expectEveryEventAfter(a, b, c, 'agents/alice', () => outCount(a, 'response') > before, ack)
    expect((await ack).success).toBe(true)
  })

  it('a locked service: the auto-subscribe channel joined at the auth waits too', async () => {
    const verifier: FlatVerifier = (credentials) => ({ agent_id: String(credentials.agent_id) })
    proxy = await HoldingRedis.start(redis)
    const prefix = `autojoin-${randomUUID().slice(0, 8)}:`
    const settings = { auth: { required: true } }
    const start = (url: string) => startServer((s, o) => new FlatTestServer(s, { ...o, verifier }), { ...settings, redis: { url, prefix } })
    const a = await start(proxy.url)
    servers.push(a)
    const b = await start(redis.url)
    servers.push(b)
    await clusterFormed([a.server, b.server])
    // Anonymous on a locked service: welcomed without `global`, which the auth joins.
    const c = await open(a.url)
    await c.next((f) => f.type === 'connected', SAFETY_MS)
    proxy.arm()
    const before = outCount(a, 'response')
    c.send({ type: 'auth', agent_id: 'bob', id: 'auth-1' })
    const ack = c.next((f) => f.type === 'ack' && f.id === 'auth-1', SAFETY_MS)
    await expectEveryEventAfter(a, b, c, 'global', () => outCount(a, 'response') > before, ack)
  })

  it('a client that resets its connection during the welcome wait leaves nothing behind: the frames it sent are not run for it', async () => {
    proxy = await HoldingRedis.start(redis)
    const prefix = `autojoin-${randomUUID().slice(0, 8)}:`
    const a = await startServer((s, o) => new FlatTestServer(s, o), { redis: { url: proxy.url, prefix } })
    servers.push(a)
    await clusterFormed([a.server])
    proxy.arm()
    // The subscribe rides with the upgrade: the server holds it, unread, while the welcome waits for `global`.
    const raw = await RawWsClient.connect(a.port, '/ws', [JSON.stringify({ type: 'subscribe', channel: 'topics/left', id: 'sub-left' })])
    await proxy.held
    const gone = new Promise<void>((resolve) => a.server.onDisconnect(() => resolve()))
    raw.socket.resetAndDestroy()
    await gone
    proxy.release()
    // This client's welcome waits on the same subscribe of `global` (or on nothing, once it is
    // confirmed): when it comes, the first connection's wait is over too.
    const c = await open(a.url)
    await c.next((f) => f.type === 'connected', SAFETY_MS)
    // Before the fix the reset connection, gone and cleaned up, was welcomed after all and its
    // subscribe ran: it stayed a member of `topics/left` for good (and the instance subscribed).
    expect({ connections: a.server.connectionCount, rooms: a.server.roomCounts() }).toEqual({ connections: 1, rooms: { global: 1 } })
  })

  it('a tracked event sent while the welcome waits is tracked like any: re-sent until acked', async () => {
    proxy = await HoldingRedis.start(redis)
    const node = await startTracked({ delivery: { ack_timeout: 0.2 } }, { url: proxy.url, prefix: `autojoin-${randomUUID().slice(0, 8)}:` }, 'flat')
    servers.push(node as unknown as Started<FlatTestServer>)
    await clusterFormed([node.server])
    proxy.arm()
    const c = await open(node.url)
    // The connection is in `global` here, its welcome waiting for the broker's subscribe.
    await proxy.held
    const { pub } = await node.server.publish('global', 'task.created', { task_id: 't1' })
    proxy.release()
    await c.next((f) => f.type === 'connected', SAFETY_MS)
    const isCopy = (f: Frame) => f.type === 'event' && f.id === pub.id
    await c.next(isCopy, SAFETY_MS)
    // Before the fix its delivery was attached after the wait: the copy held behind the welcome went untracked (pending 0), never re-sent.
    expect(await deliveryStats(node)).toMatchObject({ pending: 1 })
    await c.next(isCopy, SAFETY_MS)
  })

  it('a connection the server closes while its welcome waits ends once the wait is over, not at the close timeout', async () => {
    const [a] = await twoInstances()
    proxy.arm()
    const c = await open(a.url)
    await proxy.held
    const gone = new Promise<void>((resolve) => a.server.onDisconnect(() => resolve()))
    const closed = once(c.ws, 'close')
    // As a drain, a token expiry or an auth deadline would: the close frame goes, the client answers it.
    ;[...a.server.connections()][0]!.close(1001, 'Server shutting down')
    proxy.release()
    // Before the fix the socket stayed paused after the wait: the client's answer was never read,
    // and the connection lingered until ws's 30 s close timer (or the drain's timeout).
    let timer: NodeJS.Timeout | undefined
    await Promise.race([gone, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('connection still open')), SAFETY_MS)))])
    clearTimeout(timer)
    expect((await closed)[0]).toBe(1001)
    expect(outCount(a, 'welcome')).toBe(0)
  })
})
