import { SignJWT } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { signToken } from '../../src/auth/jwt.js'
import { TestClient } from '../helpers/client.js'
import { startService, type Started } from '../helpers/server.js'

const SECRET = 'test-secret-0123456789abcdef'
const auth = (token: unknown) => ({ type: 'request', event: 'auth', data: { token }, correlation_id: 'a1' })
const inAnHour = () => Math.floor(Date.now() / 1000) + 3600
const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')
/** An admin token signed with the service's own secret, but under `alg`, and with `exp` only when given. */
const adminToken = (alg: string, exp?: number) => {
  const jwt = new SignJWT({ user_id: 'mallory', permissions: ['admin'] }).setProtectedHeader({ alg, typ: 'JWT' }).setIssuedAt()
  return (exp === undefined ? jwt : jwt.setExpirationTime(exp)).sign(new TextEncoder().encode(SECRET))
}

describe('authentication (docs/protocol.md A.6)', () => {
  let s: Started
  afterEach(async () => s?.server.close())
  const start = (extra: Record<string, unknown> = {}) => startService('workflow', { auth: { required: true, secret: SECRET, ...extra } })

  it('a valid token as first frame → auth response, then the welcome (authenticated), then frames sent meanwhile', async () => {
    s = await start()
    const c = await TestClient.connect(s.url, { welcome: false })
    c.send(auth(await signToken({ userId: 'alice', permissions: ['workflow:read'] }, SECRET)))
    c.send({ type: 'request', event: 'subscribe', data: { channel: 'workflow:w1' }, correlation_id: 's1' })
    expect(await c.next()).toMatchObject({ type: 'response', event: 'auth', correlation_id: 'a1', data: { status: 'authenticated', user_id: 'alice' } })
    expect(await c.next()).toMatchObject({ event: 'session.created', data: { authenticated: true } })
    expect(await c.next()).toMatchObject({ correlation_id: 's1', data: { status: 'subscribed' } })
    await c.close()
  })

  const failures: [string, () => Promise<unknown>, string, string, string][] = [
    ['no token', async () => auth(undefined), 'AUTH_FAILED', 'Missing or malformed auth token', 'Authentication failed'],
    ['a non-string token', async () => auth(42), 'AUTH_FAILED', 'Missing or malformed auth token', 'Authentication failed'],
    ['a token signed with another secret', async () => auth(await signToken({ userId: 'a' }, 'another-secret-0123456789')), 'AUTH_FAILED', 'Invalid or expired token', 'Authentication failed'],
    ['an expired token', async () => auth(await signToken({ userId: 'a' }, SECRET, -10)), 'AUTH_FAILED', 'Invalid or expired token', 'Authentication failed'],
    ['garbage', async () => auth('not.a.jwt'), 'AUTH_FAILED', 'Invalid or expired token', 'Authentication failed'],
    ['a token without exp', async () => auth(await adminToken('HS256')), 'AUTH_FAILED', 'Invalid or expired token', 'Authentication failed'],
    ['a token signed under HS512', async () => auth(await adminToken('HS512', inAnHour())), 'AUTH_FAILED', 'Invalid or expired token', 'Authentication failed'],
    ['an unsigned token (alg none)', async () => auth(`${b64({ alg: 'none', typ: 'JWT' })}.${b64({ user_id: 'mallory', permissions: ['admin'], exp: inAnHour() })}.`), 'AUTH_FAILED', 'Invalid or expired token', 'Authentication failed'],
    ['a subscribe instead of auth', async () => ({ type: 'request', event: 'subscribe', data: { channel: 'global' }, correlation_id: 'a1' }), 'AUTH_REQUIRED', 'Authentication required', 'Authentication required'],
  ]

  it.each(failures)('first frame with %s → error, then close 1008', async (_what, frame, code, message, reason) => {
    s = await start()
    const c = await TestClient.connect(s.url, { welcome: false })
    c.send(await frame())
    expect(await c.next()).toMatchObject({ type: 'error', error_code: code, error_message: message, correlation_id: 'a1' })
    expect(await c.closed).toEqual({ code: 1008, reason })
    expect(c.raw.some((r) => r.includes('session.created'))).toBe(false)
  })

  it('an unexpected failure while verifying → close 1011 "Authentication error", the error logged, the server serving on', async () => {
    s = await start()
    // A hand-written fake at the seam: the verifier fails the way a broken dependency would.
    s.server.authenticator.verify = async () => {
      throw new Error('key store unavailable')
    }
    const c = await TestClient.connect(s.url, { welcome: false })
    c.send(auth('any'))
    expect(await c.closed).toEqual({ code: 1011, reason: 'Authentication error' })
    expect(c.raw).toEqual([])
    expect((await fetch(`${s.http}/health`)).status).toBe(200)
  })

  it('no auth frame within auth.timeout → close 1008 "Authentication timeout"', async () => {
    s = await start({ timeout: 0.2 })
    const c = await TestClient.connect(s.url, { welcome: false })
    expect(await c.closed).toEqual({ code: 1008, reason: 'Authentication timeout' })
  })

  it('permissions: <prefix>:read may subscribe there only; FORBIDDEN elsewhere; admin reads private channels', async () => {
    s = await start()
    const c = await TestClient.connect(s.url, { welcome: false })
    c.send(auth(await signToken({ userId: 'bob', permissions: ['workflow:read'] }, SECRET)))
    await c.next((f) => f.event === 'session.created')
    expect((await c.subscribe('workflow:w1')).data?.status).toBe('subscribed')
    expect(await c.subscribe('pool:p1')).toMatchObject({ error_code: 'FORBIDDEN', error_message: 'Not authorized to subscribe to pool:p1' })
    expect((await c.subscribe('goal-teams:bob')).data?.status).toBe('subscribed')
    expect((await c.request('publish', { channel: 'workflow:w1', event: 'workflow.started', data: { workflow_id: 'w1' } })).error_code).toBe('FORBIDDEN')
    const admin = await TestClient.connect(s.url, { welcome: false })
    admin.send(auth(await signToken({ userId: 'root', permissions: ['admin'] }, SECRET)))
    await admin.next((f) => f.event === 'session.created')
    expect((await admin.subscribe('goal-teams:bob')).data?.status).toBe('subscribed')
    await Promise.all([c.close(), admin.close()])
  })

  it.each([true, false])('an authenticated non-owner may not subscribe to another user\'s private channel, even with its prefix\'s read permission (auth.required %s)', async (required) => {
    s = await start({ required })
    const bob = await TestClient.connect(s.url, { welcome: false })
    bob.send(auth(await signToken({ userId: 'bob', permissions: ['goal-teams:read', 'workflow:read'] }, SECRET)))
    await bob.next((f) => f.event === 'session.created')
    expect(await bob.next((f) => f.correlation_id === 'a1')).toMatchObject({ type: 'response', data: { user_id: 'bob' } })
    expect(await bob.subscribe('goal-teams:alice')).toMatchObject({ type: 'error', error_code: 'FORBIDDEN', error_message: 'Not authorized to subscribe to goal-teams:alice' })
    expect((await bob.subscribe('goal-teams:bob')).data?.status).toBe('subscribed')
    expect((await bob.subscribe('goal-teams')).data?.status).toBe('subscribed')
    await bob.close()
  })

  it('a private channel takes socket publications only from its owner or an admin, even with allow_client_publish', async () => {
    s = await startService('workflow', { allow_client_publish: true, auth: { required: false, secret: SECRET } })
    const publish = (c: TestClient, channel: string) => c.request('publish', { channel, event: 'team.created', data: { team_id: 't1' } })
    const anon = await TestClient.connect(s.url)
    expect(await publish(anon, 'goal-teams:alice')).toMatchObject({ type: 'error', error_code: 'FORBIDDEN', error_message: 'Not authorized to publish to goal-teams:alice' })
    expect((await publish(anon, 'goal-teams')).type).toBe('response')
    const alice = await TestClient.connect(s.url)
    expect((await alice.request('auth', { token: await signToken({ userId: 'alice', permissions: [] }, SECRET) })).type).toBe('response')
    expect((await publish(alice, 'goal-teams:alice')).type).toBe('response')
    expect(await publish(alice, 'goal-teams:bob')).toMatchObject({ error_code: 'FORBIDDEN' })
    const admin = await TestClient.connect(s.url)
    expect((await admin.request('auth', { token: await signToken({ userId: 'root', permissions: ['admin'] }, SECRET) })).type).toBe('response')
    expect((await publish(admin, 'goal-teams:bob')).type).toBe('response')
    // Trusted server-side callers (HTTP with the policy's blessing, MCP, in-process) are not sockets.
    const res = await fetch(`${s.http}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channel: 'goal-teams:bob', event: 'team.created', data: { team_id: 't2' } }) })
    expect(res.status).toBe(200)
    await Promise.all([anon.close(), alice.close(), admin.close()])
  })
})
