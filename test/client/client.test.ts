import { afterEach, describe, expect, it } from 'vitest'
import { backoffDelay, RoomcastClient, RoomcastError, type ClientState } from '../../src/client/index.js'
import { signToken } from '../../src/auth/jwt.js'
import { startServer, startService, type Started } from '../helpers/server.js'
import { freePort } from '../helpers/supervisor.js'
import { FlatTestServer } from '../fixtures/flat-service.js'
import { connected, FakeServer } from './fake-server.js'

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function service(name: string, settings: Record<string, unknown> = {}): Promise<Started> {
  const s = await startService(name, settings)
  cleanup.push(() => s.server.close())
  return s
}

function client(opts: ConstructorParameters<typeof RoomcastClient>[0]): RoomcastClient {
  const c = new RoomcastClient(opts)
  cleanup.push(() => c.close())
  return c
}

/** Resolves with the first value `register` hands to its callback. */
function first<T>(register: (fn: (v: T) => void) => () => void): Promise<T> {
  return new Promise((resolve) => {
    const off = register((v) => {
      off()
      resolve(v)
    })
  })
}

async function rejection(p: Promise<unknown>): Promise<RoomcastError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(RoomcastError)
  return err as RoomcastError
}

describe('roomcast/client against real services (docs/client.md)', () => {
  it('envelope: connects, subscribes, receives typed events and answers requests as promises', async () => {
    const s = await service('workflow')
    const c = client({ url: s.url, dialect: 'envelope' })
    const states: ClientState[] = []
    c.onState((st) => states.push(st))
    await c.connect()
    expect(c.connectionId).toMatch(/^[0-9a-f-]{36}$/)
    expect(await c.subscribe('workflow:w1')).toEqual({ channel: 'workflow:w1', recovered: false, position: null, resubscribe: false })
    const got = first<Record<string, unknown>>((fn) => c.on('workflow.started', (data) => fn(data)))
    await s.server.publish('workflow:w1', 'workflow.started', { workflow_id: 'w1' })
    expect(await got).toMatchObject({ workflow_id: 'w1' })
    expect(await c.request('get_workflow_status', { workflow_id: 'w1' })).toMatchObject({ workflow_id: 'w1', status: 'running' })
    expect(states).toEqual(['connecting', 'open'])
  })

  it('gives typed errors: a refused subscribe, an unknown request, a missing parameter', async () => {
    const s = await service('workflow')
    const c = client({ url: s.url, dialect: 'envelope' })
    await c.connect()
    expect((await rejection(c.subscribe('nope:1'))).code).toBe('INVALID_CHANNEL')
    expect((await rejection(c.request('no_such_op'))).code).toBe('UNKNOWN_REQUEST')
    expect((await rejection(c.request('get_workflow_status', {}))).code).toBe('INVALID_PARAMS')
    expect((await rejection(c.publish('workflow:w1', 'workflow.started', { workflow_id: 'w1' }))).code).toBe('FORBIDDEN')
  })

  it('flat: the connected frame, publish with an ack, and events on auto-subscribed channels', async () => {
    const s = await startServer((st, o) => new FlatTestServer(st, o), { allow_client_publish: true })
    cleanup.push(() => s.server.close())
    const c = client({ url: s.url, dialect: 'flat' })
    await c.connect()
    expect(c.connectionId).toMatch(/^ws_[0-9a-z]+_/)
    await c.subscribe('topics/t1')
    const got = first<Record<string, unknown>>((fn) => c.on('message.new', (data, meta) => meta.channel === 'topics/t1' && fn(data)))
    const answer = await c.publish('topics/t1', 'message.new', { content: 'hi' })
    expect(answer).toMatchObject({ message_id: expect.stringMatching(/^msg_/) })
    expect(await got).toMatchObject({ content: 'hi' })
    expect((await rejection(c.subscribe('bad/channel/path'))).code).toBe('INVALID_CHANNEL')
  })

  it('an auth failure rejects connect with AUTH_FAILED and does not reconnect', async () => {
    const secret = 'a-test-secret-of-some-length'
    const s = await service('workflow', { auth: { required: true, secret } })
    const bad = client({ url: s.url, dialect: 'envelope', auth: { token: await signToken({ userId: 'u1' }, 'another-secret-entirely') } })
    const states: ClientState[] = []
    bad.onState((st) => states.push(st))
    expect((await rejection(bad.connect())).code).toBe('AUTH_FAILED')
    expect(bad.state).toBe('closed')
    expect(states).toEqual(['connecting', 'closed'])
    const good = client({ url: s.url, dialect: 'envelope', auth: { token: await signToken({ userId: 'u1', permissions: ['workflow:read'] }, secret) } })
    await good.connect()
    expect(await good.subscribe('workflow:w2')).toMatchObject({ recovered: false })
  })

  it('reconnects after the service restarts on its port and re-subscribes', async () => {
    // Restarted on its port below: a port outside the ephemeral range, which no client's source port takes meanwhile.
    const s = await service('workflow', { port: await freePort() })
    const c = client({ url: s.url, dialect: 'envelope', backoff: { initial: 50, max: 500 } })
    await c.connect()
    await c.subscribe('workflow:w3')
    const reconnecting = first<ClientState>((fn) => c.onState((st) => st === 'reconnecting' && fn(st)))
    await s.server.close()
    await reconnecting
    const again = await service('workflow', { port: s.port })
    const resubscribed = await first<{ channel: string; resubscribe: boolean }>((fn) => c.onSubscribed(fn))
    expect(resubscribed).toMatchObject({ channel: 'workflow:w3', resubscribe: true })
    const got = first<Record<string, unknown>>((fn) => c.on('workflow.completed', (data) => fn(data)))
    await again.server.publish('workflow:w3', 'workflow.completed', { workflow_id: 'w3' })
    expect(await got).toMatchObject({ workflow_id: 'w3' })
  })
})

describe('roomcast/client against a scripted server', () => {
  it('a request with no answer rejects with TIMEOUT', async () => {
    const fake = await FakeServer.start((ws) => ws.send(connected()))
    cleanup.push(() => fake.close())
    const c = client({ url: fake.url, dialect: 'flat', requestTimeout: 200 })
    await c.connect()
    const err = await rejection(c.request('get_status'))
    expect(err.code).toBe('TIMEOUT')
    expect(err.message).toMatch(/no answer within 200 ms/)
  })

  it('acks tracked events, every copy, and delivers a re-sent event once', async () => {
    const ev = { type: 'event', id: 'msg_1', channel: 'global', event: 'task.created', data: { task_id: 't1' }, timestamp: 1 }
    const fake = await FakeServer.start((ws) => {
      ws.send(connected())
      ws.send(JSON.stringify(ev))
      ws.send(JSON.stringify(ev))
      ws.send(JSON.stringify({ ...ev, id: 'msg_2', event: 'agent.heartbeat', data: { agent_id: 'a' } }))
    })
    cleanup.push(() => fake.close())
    const c = client({ url: fake.url, dialect: 'flat' })
    const seen: string[] = []
    const last = first<unknown>((fn) => c.onAny((event, _d, meta) => (seen.push(`${event}:${meta.id}`), event === 'agent.heartbeat' && fn(null))))
    await c.connect()
    await last
    expect(seen).toEqual(['task.created:msg_1', 'agent.heartbeat:msg_2'])
    // One ack frame per read of the socket, naming each id once (docs/protocol.md A.8): msg_1 is
    // acked once or twice (its copies in one read or two), the untracked msg_2 never.
    const acked = () => fake.received.filter((f) => f.type === 'ack').flatMap((f) => (f.message_ids as string[] | undefined) ?? [f.message_id])
    await expect.poll(acked).toContain('msg_1')
    expect(new Set(acked())).toEqual(new Set(['msg_1']))
    expect(acked().length).toBeLessThanOrEqual(2)
  })

  it('answers the server ping with a pong', async () => {
    const fake = await FakeServer.start((ws) => {
      ws.send(connected())
      ws.send(JSON.stringify({ type: 'ping', timestamp: 1 }))
    })
    cleanup.push(() => fake.close())
    const c = client({ url: fake.url, dialect: 'flat' })
    await c.connect()
    await expect.poll(() => fake.received.some((f) => f.type === 'pong')).toBe(true)
  })

  it('backs off between reconnects to a server that closes every connection (never a tight loop)', async () => {
    const fake = await FakeServer.start((ws) => ws.close(1011, 'Internal error'))
    cleanup.push(() => fake.close())
    const c = client({ url: fake.url, dialect: 'flat', backoff: { initial: 40, max: 160 } })
    const dials: number[] = []
    c.onState((st) => st === 'reconnecting' && dials.push(performance.now()))
    void c.connect().catch(() => {})
    await expect.poll(() => fake.connections, { timeout: 20_000 }).toBeGreaterThanOrEqual(5)
    c.close()
    // Delays are at least half the nominal 40, 80, 160, 160 ms: a lower bound, safe on a busy machine.
    const gaps = dials.slice(1, 5).map((t, i) => t - (dials[i] as number))
    gaps.forEach((g, i) => expect(g).toBeGreaterThanOrEqual(Math.min(160, 40 * 2 ** i) / 2 - 5))
  })
})

describe('backoffDelay', () => {
  it('grows exponentially to the cap, with half of each delay random', () => {
    expect(backoffDelay(0, { initial: 100 }, () => 0)).toBe(50)
    expect(backoffDelay(0, { initial: 100 }, () => 1)).toBe(100)
    expect(backoffDelay(3, { initial: 100 }, () => 0)).toBe(400)
    expect(backoffDelay(50, { initial: 100, max: 1000 }, () => 1)).toBe(1000)
    const spread = new Set(Array.from({ length: 50 }, () => Math.round(backoffDelay(4, { initial: 100 }))))
    expect(spread.size).toBeGreaterThan(10)
  })
})
