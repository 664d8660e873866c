import type { IncomingMessage } from 'node:http'
import { describe, expect, it } from 'vitest'
import { AccessPolicy, isLoopback } from '../../src/auth/access-policy.js'
import { parseSettings } from '../../src/index.js'

/** A hand-written request at the seam: only what the policy reads (headers, the TCP peer). */
const request = (remoteAddress: string | undefined, headers: Record<string, string> = {}) =>
  ({ headers: { host: '127.0.0.1:8690', ...headers }, socket: { remoteAddress } }) as unknown as IncomingMessage

const FORBIDDEN = { status: 403, code: 'FORBIDDEN', error: 'Without an api_key setting this route is served to loopback callers only' }

describe('AccessPolicy: the loopback peer check, with the peer address given (no non-loopback interface needed)', () => {
  const policy = new AccessPolicy(parseSettings({}))

  it.each(['127.0.0.1', '127.3.2.1', '::1', '::ffff:127.0.0.1'])('a protected route is served to the loopback peer %s', (addr) => {
    expect(isLoopback(addr)).toBe(true)
    expect(policy.check(request(addr), 'protected')).toBeNull()
  })

  it.each(['10.0.0.5', '192.168.1.20', '::ffff:10.0.0.5', 'fe80::1', '2001:db8::1', '::', '0.0.0.0', undefined])(
    'a protected route is refused to the peer %s, even naming a loopback Host; public routes and the upgrade are not',
    (addr) => {
      expect(policy.check(request(addr), 'protected')).toEqual(FORBIDDEN)
      expect(policy.check(request(addr, { host: 'localhost:8690' }), 'protected')).toEqual(FORBIDDEN)
      expect(policy.check(request(addr), 'public')).toBeNull()
      expect(policy.check(request(addr), 'socket')).toBeNull()
    },
  )

  it('X-Forwarded-For is not believed without trust_proxy; with it the last entry is the client', () => {
    expect(policy.check(request('10.0.0.5', { 'x-forwarded-for': '127.0.0.1' }), 'protected')).toEqual(FORBIDDEN)
    const proxied = new AccessPolicy(parseSettings({ trust_proxy: true }))
    expect(proxied.check(request('127.0.0.1', { 'x-forwarded-for': '203.0.113.7' }), 'protected')).toEqual(FORBIDDEN)
    expect(proxied.check(request('127.0.0.1', { 'x-forwarded-for': '127.0.0.1, 203.0.113.7' }), 'protected')).toEqual(FORBIDDEN)
    expect(proxied.check(request('10.0.0.5', { 'x-forwarded-for': '203.0.113.7, 127.0.0.1' }), 'protected')).toBeNull()
  })

  it('with an api_key the peer does not matter: the Bearer key does', () => {
    const keyed = new AccessPolicy(parseSettings({ api_key: 'an-api-key-123' }))
    expect(keyed.check(request('10.0.0.5', { authorization: 'Bearer an-api-key-123' }), 'protected')).toBeNull()
    expect(keyed.check(request('127.0.0.1'), 'protected')).toMatchObject({ status: 401, code: 'AUTH_FAILED' })
  })
})
