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

describe('AccessPolicy: Host headers (remembered per value) and the operator check of an upgrade', () => {
  const hosts = ['127.0.0.1:8690', 'localhost', 'LOCALHOST:80', '[::1]:8690', '10.0.0.5:8690', '[2001:db8::1]', 'example.com', 'example.com:8690', 'bad host', '', '127.0.0.1:123456']
  const hostRefusal = (host: string | undefined) => ({ status: 403, code: 'FORBIDDEN', error: `Host ${host ?? '(none)'} is not allowed without an api_key setting: use localhost or an IP address` })
  // What each Host gets without an api_key: refused (a name, malformed), public only (another IP), or protected too from a loopback peer.
  const expected: Record<string, 'refused' | 'public' | 'protected'> = {
    '127.0.0.1:8690': 'protected', localhost: 'protected', 'LOCALHOST:80': 'protected', '[::1]:8690': 'protected',
    '10.0.0.5:8690': 'public', '[2001:db8::1]': 'public',
    'example.com': 'refused', 'example.com:8690': 'refused', 'bad host': 'refused', '': 'refused', '127.0.0.1:123456': 'refused',
  }

  it('answers every Host the same on its first request, its second, and after the memory of 256 values started over', () => {
    const policy = new AccessPolicy(parseSettings({}))
    const answers = () =>
      hosts.map((host) => {
        const req = request('127.0.0.1', { host })
        const pub = policy.check(req, 'public')
        const prot = policy.check(req, 'protected')
        if (expected[host] === 'refused') {
          expect(pub, host).toEqual(hostRefusal(host))
          expect(prot, host).toEqual(hostRefusal(host))
        } else {
          expect(pub, host).toBeNull()
          expect(prot, host).toEqual(expected[host] === 'protected' ? null : FORBIDDEN)
        }
        return [pub, prot]
      })
    const first = answers()
    expect(answers()).toEqual(first)
    for (let i = 0; i < 300; i++) policy.check(request('127.0.0.1', { host: `10.1.${i >> 8}.${i & 255}` }), 'public')
    expect(answers()).toEqual(first)
    // No Host header at all: refused, as a malformed one.
    const none = { headers: {}, socket: { remoteAddress: '127.0.0.1' } } as unknown as IncomingMessage
    expect(policy.check(none, 'protected')).toEqual(hostRefusal(undefined))
  })

  it('operator(req) is check(req, "protected") passing, for requests whose origin the upgrade let through', () => {
    for (const settings of [{}, { api_key: 'an-api-key-123' }]) {
      const policy = new AccessPolicy(parseSettings(settings))
      for (const host of hosts) {
        for (const peer of ['127.0.0.1', '10.0.0.5']) {
          for (const extra of [{}, { authorization: 'Bearer an-api-key-123' }, { authorization: 'Bearer wrong' }, { origin: 'http://localhost:3000' }] as Record<string, string>[]) {
            const req = request(peer, { host, ...extra })
            expect(policy.check(req, 'socket'), host).toBeNull()
            expect(policy.operator(req), `${host} ${peer} ${JSON.stringify(extra)}`).toBe(policy.check(req, 'protected') === null)
          }
        }
      }
    }
  })
})
