import { SignJWT } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { signHmacToken, type SettingsInput } from '../../src/index.js'
import { type Frame, TestClient } from '../helpers/client.js'
import { FlatClient } from '../helpers/flat.js'
import { startService, type Started } from '../helpers/server.js'

// docs/auth.md "Refresh": a connection authenticated with a token that has an exp is warned
// before it expires, may re-authenticate on the same connection with a fresh token of the same
// identity, and is closed 4001 `Token expired` at exp unrefreshed — in both dialects. Tokens
// live about 2 s (exp is whole seconds); every wait is on a frame or a close, the timeouts are
// only a safety net.

const HMAC_SECRET = 'expiry-test-hmac-secret-0123'
const JWT_SECRET = 'expiry-test-jwt-secret-0123456789'
/** A safety bound for waits that take about 2 s (a token's life): far beyond it on a busy machine. */
const SAFETY_MS = 20_000

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

/** An exp (seconds since the epoch) `seconds` from now, rounded down as token minting does. */
const expIn = (seconds: number) => Math.floor(Date.now() / 1000) + seconds

/** An HS256 JWT with an exact exp, so two tokens can share one. */
function jwt(userId: string, exp: number, permissions: string[] = ['workflow:read'], secret = JWT_SECRET): Promise<string> {
  return new SignJWT({ user_id: userId, permissions }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt().setExpirationTime(exp).sign(new TextEncoder().encode(secret))
}

/** An HMAC token with an exact exp. */
const hmac = (agentId: string, sessionId: string | null, exp: number, secret = HMAC_SECRET) => signHmacToken({ agentId, sessionId }, secret, 0, exp * 1000)

describe('token expiry, flat dialect (the context service, production)', () => {
  const start = (extra: SettingsInput = {}) =>
    startService('context', { environment: 'production', allow_client_publish: true, ...extra, auth: { token_secret: HMAC_SECRET, expiry_warning: 1, ...extra.auth } })
  const agent = async (agentId: string, sessionId: string, exp: number) => keep(await FlatClient.open(s.url, { token: hmac(agentId, sessionId, exp) }))
  const warning = (c: FlatClient) => c.next((f) => f.type === 'token_expiring', SAFETY_MS)

  it('warned before exp, refreshed on the same connection: subscriptions kept, open past the old exp; an unrefreshed twin is closed 4001 at exp', async () => {
    s = await start()
    const exp = expIn(2)
    const alice = await agent('alice', 's1', exp)
    const twin = await agent('carol', 's1', exp)
    expect(await alice.subscribeFlat('topics/x')).toMatchObject({ success: true })

    const warned = await warning(alice)
    const warnedAt = Date.now()
    expect(warned).toMatchObject({ type: 'token_expiring', expires_at: exp * 1000, timestamp: expect.any(Number) })
    expect(warned.expires_in).toBeGreaterThan(0)
    expect(warned.expires_in).toBeLessThanOrEqual(1)
    // At most expiry_warning (1 s) ahead, and before exp.
    expect(warnedAt).toBeGreaterThanOrEqual(exp * 1000 - 1000)

    const fresh = expIn(60)
    expect(await alice.op({ type: 'auth', token: hmac('alice', 's1', fresh) })).toMatchObject({
      success: true,
      agent_id: 'alice',
      session_id: 's1',
      expires_at: fresh * 1000,
    })

    // The twin shares the old exp and is not refreshed: its close says the old exp has passed.
    expect(await warning(twin)).toMatchObject({ expires_at: exp * 1000 })
    expect(await twin.closed).toEqual({ code: 4001, reason: 'Token expired' })
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000)
    expect(s.server.stats.tokenExpiredCloses).toBe(1)
    expect(s.server.statsSnapshot()).toMatchObject({ token_expired_closes: 1 })

    await alice.pingFlat()
    await s.server.publish('topics/x', 'message.new', { content: 'after the old exp' })
    expect((await alice.event('message.new', 'topics/x')).data).toEqual({ content: 'after the old exp' })
    await s.server.publish('agents/alice', 'message.new', { content: 'private' })
    expect((await alice.event('message.new', 'agents/alice')).data).toEqual({ content: 'private' })
  })

  it('a refresh as another agent or another session is refused; the connection keeps its identity and its old expiry', async () => {
    s = await start()
    const exp = expIn(2)
    const alice = await agent('alice', 's1', exp)
    const mismatch = { success: false, code: 'AUTH_FAILED', error: 'Token identity does not match the connection' }
    expect(await alice.op({ type: 'auth', token: hmac('bob', 's1', expIn(60)) })).toMatchObject(mismatch)
    expect(await alice.op({ type: 'auth', token: hmac('alice', 's2', expIn(60)) })).toMatchObject(mismatch)
    // Still alice, on a locked service, open: her private channel reaches her, bob's does not.
    await s.server.publish('agents/bob', 'message.new', { content: 'for bob' })
    await s.server.publish('agents/alice', 'message.new', { content: 'for alice' })
    expect((await alice.event('message.new')).data).toEqual({ content: 'for alice' })
    expect(await alice.subscribeFlat('agents/bob')).toMatchObject({ success: false, code: 'FORBIDDEN' })
    expect(await alice.publishFlat('agents/alice', 'message.new', { content: 'mine' })).toMatchObject({ success: true })
    expect(alice.raw.some((r) => r.includes('for bob'))).toBe(false)
    // The old expiry stands.
    expect(await alice.closed).toEqual({ code: 4001, reason: 'Token expired' })
  })

  it('an expired or malformed refresh is refused with its reason, and the connection stays as it was', async () => {
    s = await start()
    const alice = await agent('alice', 's1', expIn(60))
    expect(await alice.op({ type: 'auth', token: hmac('alice', 's1', expIn(-10)) })).toMatchObject({ success: false, code: 'AUTH_FAILED', error: 'Token expired' })
    expect(await alice.op({ type: 'auth', token: 'garbage' })).toMatchObject({ success: false, code: 'AUTH_FAILED', error: expect.stringMatching(/^Malformed token/) })
    expect(await alice.op({ type: 'auth', token: hmac('alice', 's1', expIn(60), 'another-secret-0123') })).toMatchObject({ error: 'Invalid token signature' })
    await alice.pingFlat()
    await s.server.publish('agents/alice', 'message.new', { content: 'still alice' })
    expect((await alice.event('message.new', 'agents/alice')).data).toEqual({ content: 'still alice' })
  })

  it('a token beyond setTimeout\'s range (30 days) is neither warned nor closed at once; anonymous development connections carry no expiry', async () => {
    s = await startService('context', { auth: { token_secret: HMAC_SECRET } })
    const alice = await agent('alice', 's1', expIn(30 * 86400))
    const anon = keep(await FlatClient.open(s.url, { agent_id: 'dev' }))
    await alice.pingFlat()
    await anon.pingFlat()
    await s.server.publish('agents/alice', 'message.new', { content: 'hi' })
    expect((await alice.event('message.new', 'agents/alice')).data).toEqual({ content: 'hi' })
    expect([...alice.raw, ...anon.raw].some((r) => r.includes('token_expiring'))).toBe(false)
  })
})

describe('token expiry, envelope dialect (the workflow service, auth.required)', () => {
  const start = (extra: SettingsInput = {}) => startService('workflow', { ...extra, auth: { required: true, secret: JWT_SECRET, expiry_warning: 1, ...extra.auth } })
  /** Authenticates with the first frame, as auth.required asks, and subscribes to the user's private channel. */
  const user = async (userId: string, exp: number) => {
    const c = keep(await TestClient.connect(s.url, { welcome: false }))
    expect((await c.request('auth', { token: await jwt(userId, exp) })).data).toMatchObject({ status: 'authenticated', user_id: userId })
    await c.next((f) => f.event === 'session.created')
    expect((await c.subscribe(`goal-teams:${userId}`)).data?.status).toBe('subscribed')
    expect((await c.subscribe('workflow:w1')).data?.status).toBe('subscribed')
    return c
  }
  const warning = (c: TestClient) => c.next((f) => f.event === 'token.expiring', SAFETY_MS)
  const team = (c: TestClient, id: string) => c.next((f: Frame) => f.event === 'team.created' && f.data?.team_id === id)

  it('warned before exp, refreshed on the same connection: subscriptions kept, open past the old exp; an unrefreshed twin is closed 4001 at exp', async () => {
    s = await start()
    const exp = expIn(2)
    const alice = await user('alice', exp)
    const twin = await user('carol', exp)

    const warned = await warning(alice)
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000 - 1000)
    expect(warned).toMatchObject({ type: 'event', event: 'token.expiring', room: null, correlation_id: null, data: { expires_at: new Date(exp * 1000).toISOString() } })
    expect(warned.data?.expires_in).toBeGreaterThan(0)
    expect(warned.data?.expires_in).toBeLessThanOrEqual(1)

    const fresh = expIn(60)
    expect(await alice.request('auth', { token: await jwt('alice', fresh) })).toMatchObject({
      type: 'response',
      event: 'auth',
      data: { status: 'refreshed', user_id: 'alice', expires_at: new Date(fresh * 1000).toISOString() },
    })

    expect(await twin.closed).toEqual({ code: 4001, reason: 'Token expired' })
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000)
    expect(s.server.stats.tokenExpiredCloses).toBe(1)

    await alice.alive()
    await s.server.publish('workflow:w1', 'workflow.started', { workflow_id: 'after' })
    expect((await alice.next((f) => f.event === 'workflow.started')).data).toMatchObject({ workflow_id: 'after' })
    await s.server.publish('goal-teams:alice', 'team.created', { team_id: 'private' })
    expect(await team(alice, 'private')).toMatchObject({ room: 'goal-teams:alice' })
  })

  it('a refresh as another user is refused; the connection keeps its identity and its old expiry; an expired or malformed refresh is refused', async () => {
    s = await start()
    const exp = expIn(2)
    const alice = await user('alice', exp)
    expect(await alice.request('auth', { token: await jwt('bob', expIn(60), ['admin']) })).toMatchObject({
      type: 'error',
      error_code: 'AUTH_FAILED',
      error_message: 'Token identity does not match the connection',
    })
    expect(await alice.request('auth', { token: await jwt('alice', expIn(-10)) })).toMatchObject({ error_code: 'AUTH_FAILED', error_message: 'Invalid or expired token' })
    expect(await alice.request('auth', { token: 'not.a.jwt' })).toMatchObject({ error_code: 'AUTH_FAILED', error_message: 'Invalid or expired token' })
    expect(await alice.request('auth', {})).toMatchObject({ error_code: 'AUTH_FAILED', error_message: 'Missing or malformed auth token' })
    // Still alice, with alice's permissions: bob's private channel and the admin's reach stay closed.
    expect(await alice.subscribe('goal-teams:bob')).toMatchObject({ error_code: 'FORBIDDEN' })
    await s.server.publish('goal-teams:bob', 'team.created', { team_id: 'for-bob' })
    await s.server.publish('goal-teams:alice', 'team.created', { team_id: 'for-alice' })
    expect(await team(alice, 'for-alice')).toMatchObject({ room: 'goal-teams:alice' })
    expect(alice.raw.some((r) => r.includes('for-bob'))).toBe(false)
    expect(await alice.closed).toEqual({ code: 4001, reason: 'Token expired' })
  })
})
