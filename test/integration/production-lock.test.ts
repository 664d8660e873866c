import { afterEach, describe, expect, it } from 'vitest'
import { signHmacToken, type SettingsInput, type WebSocketServer } from '../../src/index.js'
import { signToken } from '../../src/auth/jwt.js'
import { TestClient } from '../helpers/client.js'
import { FlatClient } from '../helpers/flat.js'
import { startService, type Started } from '../helpers/server.js'

// docs/auth.md "Production mode": with environment production (or auth.required) a connection
// without a verified identity may not publish over the socket, reads only public_channels, is
// closed 1008 after a failed auth and when it has none by auth.timeout — in both dialects.

const HMAC_SECRET = 'lock-test-hmac-secret-0123'
const JWT_SECRET = 'lock-test-jwt-secret-0123456789'

let s: Started
const clients: { close(): Promise<unknown> }[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await s?.server.close()
})

function keep<C extends { close(): Promise<unknown> }>(c: C): C {
  clients.push(c)
  return c
}

/** Resolves once the server has cleaned up `n` more connections (its slot is free again). */
function disconnects(server: WebSocketServer, n: number): Promise<void> {
  let left = n
  return new Promise((resolve) => server.onDisconnect(() => --left === 0 && resolve()))
}

describe('production lock, flat dialect (the context service)', () => {
  const start = (extra: SettingsInput = {}) =>
    startService('context', { environment: 'production', allow_client_publish: true, ...extra, auth: { token_secret: HMAC_SECRET, ...extra.auth } })
  const flat = async (query: Record<string, string> = {}) => keep(await FlatClient.open(s.url, query))
  /** alice with a valid token: subscribed to global (auto), sessions/s1 (her session) and topics/x. */
  const legit = async () => {
    const alice = await flat({ token: signHmacToken({ agentId: 'alice', sessionId: 's1' }, HMAC_SECRET) })
    expect(await alice.subscribeFlat('topics/x')).toMatchObject({ success: true })
    return alice
  }
  /** The next task.created alice gets on each channel is the marker: nothing of the attacker's came before it. */
  const receivesOnlyMarkers = async (alice: FlatClient) => {
    for (const channel of ['global', 'sessions/s1', 'topics/x']) {
      await s.server.publish(channel, 'task.created', { task_id: `marker-${channel}` })
      expect((await alice.event('task.created', channel)).data).toEqual({ task_id: `marker-${channel}` })
    }
    expect(alice.raw.filter((r) => r.includes('"mallory"') || r.includes('forged'))).toEqual([])
  }

  it('?agent_id=mallory without a token: AUTH_FAILED, then close 1008; what it sends delivers nothing', async () => {
    s = await start()
    const alice = await legit()
    const mallory = await flat({ agent_id: 'mallory' })
    mallory.send({ type: 'publish', channel: 'global', event: 'task.created', data: { task_id: 'mallory' }, id: 'p1' })
    mallory.send({ type: 'subscribe', channel: 'sessions/s1', id: 's1' })
    expect(await mallory.next((f) => f.code !== undefined)).toMatchObject({ error: 'A valid token is required', code: 'AUTH_FAILED' })
    expect(await mallory.closed).toEqual({ code: 1008, reason: 'Authentication failed' })
    expect(mallory.raw.some((r) => r.includes('"success":true'))).toBe(false)
    await receivesOnlyMarkers(alice)
  })

  it('no query at all: publishing is FORBIDDEN, so is reading beyond public_channels; closed 1008 at auth.timeout', async () => {
    s = await start({ auth: { timeout: 0.3 } })
    const alice = await legit()
    const anon = await flat()
    const refusal = { success: false, code: 'FORBIDDEN', error: expect.stringContaining('authenticate first') }
    expect(await anon.publishFlat('global', 'task.created', { task_id: 'mallory' })).toMatchObject(refusal)
    expect(await anon.publishFlat('topics/x', 'message.new', { content: 'mallory' })).toMatchObject(refusal)
    expect(await anon.subscribeFlat('sessions/s1')).toMatchObject(refusal)
    expect(await anon.subscribeFlat('global')).toMatchObject(refusal)
    expect(await anon.closed).toEqual({ code: 1008, reason: 'Authentication timeout' })
    // alice authenticated within the same timeout and stays.
    await alice.pingFlat()
    await receivesOnlyMarkers(alice)
  })

  it('a forged token, in the query or in an auth frame: refused, then close 1008', async () => {
    s = await start()
    const alice = await legit()
    const forged = signHmacToken({ agentId: 'alice', sessionId: 's1' }, 'not-the-service-secret')
    const byQuery = await flat({ agent_id: 'alice', token: forged })
    expect(await byQuery.next((f) => f.code !== undefined)).toMatchObject({ error: 'Invalid token signature', code: 'AUTH_FAILED' })
    expect(await byQuery.closed).toEqual({ code: 1008, reason: 'Authentication failed' })
    const byFrame = await flat()
    expect(await byFrame.op({ type: 'auth', agent_id: 'alice', token: forged })).toMatchObject({ success: false, code: 'AUTH_FAILED', error: 'Invalid token signature' })
    expect(await byFrame.closed).toEqual({ code: 1008, reason: 'Authentication failed' })
    // A refused second identity leaves the first in place, and the connection open.
    expect(await alice.op({ type: 'auth', token: signHmacToken({ agentId: 'bob' }, HMAC_SECRET) })).toMatchObject({ success: false, code: 'AUTH_FAILED', error: 'Token identity does not match the connection' })
    expect(await alice.op({ type: 'auth', token: forged })).toMatchObject({ success: false, code: 'AUTH_FAILED' })
    await alice.pingFlat()
    const garbage = await flat({ token: 'garbage' })
    expect(await garbage.next((f) => f.code !== undefined)).toMatchObject({ code: 'AUTH_FAILED', error: expect.stringMatching(/^Malformed token/) })
    expect(await garbage.closed).toEqual({ code: 1008, reason: 'Authentication failed' })
    await receivesOnlyMarkers(alice)
  })

  it('refused and anonymous sockets do not hold the slots: at max_connections 3 a valid client still gets in', async () => {
    s = await start({ max_connections: 3, auth: { timeout: 0.3 } })
    const gone = disconnects(s.server, 3)
    const bad = await Promise.all([flat({ token: 'bad' }), flat({ agent_id: 'mallory' }), flat()])
    expect(await Promise.all(bad.map((c) => c.closed))).toEqual([
      { code: 1008, reason: 'Authentication failed' },
      { code: 1008, reason: 'Authentication failed' },
      { code: 1008, reason: 'Authentication timeout' },
    ])
    await gone
    const alice = await legit()
    await alice.pingFlat()
  })

  it('a valid token: auto-subscribed to global and its own channels, may publish, outlives auth.timeout', async () => {
    s = await start({ auth: { timeout: 0.2 } })
    const alice = await legit()
    const anon = await flat()
    expect(await anon.closed).toMatchObject({ code: 1008 })
    expect(await alice.publishFlat('topics/x', 'task.created', { task_id: 't1' })).toMatchObject({ success: true })
    expect((await alice.event('task.created', 'topics/x')).data).toEqual({ task_id: 't1' })
    // The auto-subscribe to global waited for the identity.
    await s.server.publish('global', 'system.info', { message: 'hi' })
    expect((await alice.event('system.info', 'global')).data).toEqual({ message: 'hi' })
    await alice.pingFlat()
  })

  it('public_channels: an anonymous connection reads them (and stays past auth.timeout), nothing else', async () => {
    s = await start({ public_channels: ['topics/*'], auth: { timeout: 0.3 } })
    const reader = await flat()
    const idle = await flat()
    expect(await reader.subscribeFlat('topics/news')).toMatchObject({ success: true })
    expect(await reader.subscribeFlat('sessions/s1')).toMatchObject({ success: false, code: 'FORBIDDEN' })
    expect(await reader.publishFlat('topics/news', 'message.new', { content: 'x' })).toMatchObject({ success: false, code: 'FORBIDDEN' })
    // Both deadlines have passed once the idle one is closed.
    expect(await idle.closed).toEqual({ code: 1008, reason: 'Authentication timeout' })
    await reader.pingFlat()
    await s.server.publish('topics/news', 'message.new', { content: 'public' })
    expect((await reader.event('message.new', 'topics/news')).data).toEqual({ content: 'public' })
  })
})

describe('production lock, envelope dialect (the workflow service)', () => {
  const start = (extra: SettingsInput = {}) =>
    startService('workflow', { environment: 'production', allow_client_publish: true, ...extra, auth: { secret: JWT_SECRET, ...extra.auth } })
  const connect = async () => keep(await TestClient.connect(s.url))
  const legit = async () => {
    const alice = await connect()
    expect((await alice.request('auth', { token: await signToken({ userId: 'alice' }, JWT_SECRET) })).data).toMatchObject({ user_id: 'alice' })
    expect((await alice.subscribe('workflow:w1')).data?.status).toBe('subscribed')
    return alice
  }
  const marker = async (alice: TestClient) => {
    await s.server.publish('workflow:w1', 'workflow.started', { workflow_id: 'marker' })
    expect((await alice.next((f) => f.event === 'workflow.started')).data).toMatchObject({ workflow_id: 'marker' })
  }

  it('anonymous: publish and subscribe FORBIDDEN; closed 1008 at auth.timeout; nothing delivered', async () => {
    s = await start({ auth: { timeout: 0.5 } })
    const alice = await legit()
    const anon = await connect()
    expect(await anon.request('publish', { channel: 'workflow:w1', event: 'workflow.started', data: { workflow_id: 'mallory' } })).toMatchObject({
      type: 'error',
      error_code: 'FORBIDDEN',
      error_message: expect.stringContaining('authenticate first'),
    })
    expect(await anon.subscribe('workflow:w1')).toMatchObject({ type: 'error', error_code: 'FORBIDDEN' })
    expect(await anon.closed).toEqual({ code: 1008, reason: 'Authentication timeout' })
    await alice.alive()
    await marker(alice)
  })

  it('an auth request with a forged JWT: AUTH_FAILED, then close 1008; a refused second auth keeps the identity', async () => {
    s = await start()
    const alice = await legit()
    const mallory = await connect()
    const forged = await signToken({ userId: 'alice', permissions: ['admin'] }, 'another-secret-0123456789abc')
    expect(await mallory.request('auth', { token: forged })).toMatchObject({ type: 'error', error_code: 'AUTH_FAILED', error_message: 'Invalid or expired token' })
    expect(await mallory.closed).toEqual({ code: 1008, reason: 'Authentication failed' })
    expect(await alice.request('auth', { token: forged })).toMatchObject({ type: 'error', error_code: 'AUTH_FAILED' })
    await alice.alive()
    expect((await alice.request('publish', { channel: 'workflow:w1', event: 'workflow.started', data: { workflow_id: 'w1' } })).data).toMatchObject({ status: 'published' })
    expect((await alice.next((f) => f.event === 'workflow.started')).data).toMatchObject({ workflow_id: 'w1' })
  })

  it('public_channels: an anonymous connection reads them only, and stays', async () => {
    s = await start({ public_channels: ['global'], auth: { timeout: 0.3 } })
    const reader = await connect()
    const idle = await connect()
    expect((await reader.subscribe('global')).data?.status).toBe('subscribed')
    expect(await reader.subscribe('workflow:w1')).toMatchObject({ error_code: 'FORBIDDEN' })
    expect(await idle.closed).toEqual({ code: 1008, reason: 'Authentication timeout' })
    await reader.alive()
  })
})

describe('production lock, the workspace service (HMAC tokens like the context service)', () => {
  const start = (extra: SettingsInput = {}) => startService('workspace', { environment: 'production', ...extra, auth: { token_secret: HMAC_SECRET, ...extra.auth } })
  const flat = async (query: Record<string, string> = {}) => keep(await FlatClient.open(s.url, query))
  const token = (agentId: string) => signHmacToken({ agentId }, HMAC_SECRET)

  it('a garbage token in the auth frame is refused and closed; a valid one reads; nothing reaches anyone from the refused', async () => {
    s = await start()
    const alice = await flat({ token: token('alice') })
    expect(await alice.subscribeFlat('files')).toMatchObject({ success: true })
    const mallory = await flat()
    expect(await mallory.op({ type: 'auth', agent_id: 'alice', token: 'garbage' })).toMatchObject({ success: false, code: 'AUTH_FAILED', error: expect.stringMatching(/^Malformed token/) })
    expect(await mallory.closed).toEqual({ code: 1008, reason: 'Authentication failed' })
    const anon = await flat()
    expect(await anon.publishFlat('files', 'file.changed', { file: 'x.ts', event: 'change' })).toMatchObject({ success: false, code: 'FORBIDDEN' })
    expect(await anon.subscribeFlat('git')).toMatchObject({ success: false, code: 'FORBIDDEN' })
    s.server.emit('files', 'file.changed', { file: 'marker.ts', event: 'change' })
    expect((await alice.event('file.changed', 'files')).data).toMatchObject({ file: 'marker.ts' })
  })

  it('with auth.required a valid token is accepted and reads every channel (flat tokens carry no permissions)', async () => {
    s = await start({ environment: 'development', auth: { required: true } })
    const alice = await flat()
    expect(await alice.op({ type: 'auth', token: token('alice') })).toMatchObject({ success: true, agent_id: 'alice' })
    expect(await alice.subscribeFlat('git')).toMatchObject({ success: true })
    const bob = await flat({ agent_id: 'bob' })
    expect(await bob.next((f) => f.code !== undefined)).toMatchObject({ code: 'AUTH_FAILED', error: 'A valid token is required' })
    expect(await bob.closed).toEqual({ code: 1008, reason: 'Authentication failed' })
  })

  it('refuses to be built in production with the development token secret, naming the key', async () => {
    const { SERVICES } = await import('../../services/index.js')
    const { parseSettings } = await import('../../src/index.js')
    expect(() => SERVICES.workspace!.create(parseSettings({ environment: 'production', log_level: 'silent' }))).toThrow(/auth\.token_secret: the development default/)
    expect(() => SERVICES.workspace!.create(parseSettings({ auth: { required: true, token_secret: '' }, log_level: 'silent' }))).toThrow(/auth\.token_secret: must not be empty/)
  })
})

describe('development stays as it was', () => {
  it('anonymous flat clients publish and read; a bad token only gets its error frame; no deadline', async () => {
    s = await startService('context', { allow_client_publish: true, flat: { ping_interval: 0.2 }, auth: { token_secret: HMAC_SECRET, timeout: 0.1 } })
    const bad = keep(await FlatClient.open(s.url, { token: 'garbage' }))
    expect(await bad.next((f) => f.code !== undefined)).toMatchObject({ code: 'AUTH_FAILED' })
    const anon = keep(await FlatClient.open(s.url))
    expect(await anon.publishFlat('topics/x', 'task.created', { task_id: 't' })).toMatchObject({ success: true })
    expect(await anon.subscribeFlat('sessions/s1')).toMatchObject({ success: true })
    // Two server pings (0.2 s apart) after connecting: past auth.timeout (0.1 s), both still answer.
    for (const c of [bad, anon]) for (let i = 0; i < 2; i++) await c.next((f) => f.type === 'ping')
    await Promise.all([bad.pingFlat(), anon.pingFlat()])
  })
})
