import { createHmac } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DEV_TOKEN_SECRET, signHmacToken, verifyHmacToken } from '../../src/auth/hmac-token.js'
import { tokenRequired, tokenSecretProblems } from '../../src/auth/token-policy.js'
import { loadSettings, parseSettings, SettingsError } from '../../src/index.js'

const SECRET = 'a-test-secret-of-some-length'
const b64 = (s: string) => Buffer.from(s).toString('base64url')
/** A token whose payload is `raw` text, correctly signed: only the payload is wrong. */
const signedRaw = (raw: string, secret = SECRET) => {
  const p = b64(raw)
  return `${p}.${createHmac('sha256', secret).update(p).digest('base64url')}`
}

describe('flat-dialect HMAC tokens', () => {
  it('a minted token verifies, with its agent, session and a 1 h expiry', () => {
    const now = Date.UTC(2026, 0, 1)
    const token = signHmacToken({ agentId: 'agent-a', sessionId: 's1' }, SECRET, undefined, now)
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/)
    const [payload] = token.split('.')
    expect(JSON.parse(Buffer.from(payload!, 'base64url').toString())).toEqual({ agent_id: 'agent-a', session_id: 's1', exp: now / 1000 + 3600 })
    expect(verifyHmacToken(token, SECRET, now)).toEqual({ ok: true, claims: { agentId: 'agent-a', sessionId: 's1', exp: now / 1000 + 3600 } })
    expect(verifyHmacToken(signHmacToken({ agentId: 'b' }, SECRET), SECRET)).toMatchObject({ ok: true, claims: { agentId: 'b', sessionId: null } })
  })

  it('an expired token is refused as expired, one second after exp', () => {
    const now = Date.now()
    const token = signHmacToken({ agentId: 'a' }, SECRET, 10, now)
    expect(verifyHmacToken(token, SECRET, now + 9_000).ok).toBe(true)
    expect(verifyHmacToken(token, SECRET, now + 10_000)).toEqual({ ok: false, reason: 'expired' })
    expect(verifyHmacToken(signHmacToken({ agentId: 'a' }, SECRET, -1), SECRET)).toEqual({ ok: false, reason: 'expired' })
  })

  it('a token signed with another secret has a bad signature', () => {
    expect(verifyHmacToken(signHmacToken({ agentId: 'a' }, 'another-secret'), SECRET)).toEqual({ ok: false, reason: 'bad_signature' })
  })

  it('a tampered payload (same signature) has a bad signature', () => {
    const token = signHmacToken({ agentId: 'a' }, SECRET)
    const [, sig] = token.split('.')
    const forged = `${b64(JSON.stringify({ agent_id: 'admin', exp: 9_999_999_999 }))}.${sig!}`
    expect(verifyHmacToken(forged, SECRET)).toEqual({ ok: false, reason: 'bad_signature' })
    // A signature of the right form but the wrong length must not throw in timingSafeEqual.
    expect(verifyHmacToken(`${token.split('.')[0]!}.AAAA`, SECRET)).toEqual({ ok: false, reason: 'bad_signature' })
  })

  it.each([
    ['garbage', 'not a token at all'],
    ['one part', 'abcdef'],
    ['three parts', 'a.b.c'],
    ['empty', ''],
    ['bad base64', 'ab+/.cd=='],
    ['not a string', 42],
    ['null', null],
    ['huge', `${'a'.repeat(5000)}.b`],
  ])('malformed: %s', (_name, token) => {
    expect(verifyHmacToken(token, SECRET)).toEqual({ ok: false, reason: 'malformed' })
  })

  it('correctly signed but not a JSON object payload is malformed; no agent_id says so', () => {
    expect(verifyHmacToken(signedRaw('{not json'), SECRET)).toEqual({ ok: false, reason: 'malformed' })
    expect(verifyHmacToken(signedRaw('[1,2]'), SECRET)).toEqual({ ok: false, reason: 'malformed' })
    expect(verifyHmacToken(signedRaw('"agent"'), SECRET)).toEqual({ ok: false, reason: 'malformed' })
    expect(verifyHmacToken(signedRaw(JSON.stringify({ agent_id: 'a' })), SECRET)).toEqual({ ok: false, reason: 'malformed' })
    expect(verifyHmacToken(signedRaw(JSON.stringify({ agent_id: 7, exp: 9_999_999_999 })), SECRET)).toEqual({ ok: false, reason: 'malformed' })
    expect(verifyHmacToken(signedRaw(JSON.stringify({ exp: 9_999_999_999 })), SECRET)).toEqual({ ok: false, reason: 'missing_agent_id' })
  })
})

describe('the token secret in settings', () => {
  const checks = [tokenSecretProblems]

  it('defaults to the development secret, overridden by WS_AUTH_SECRET', () => {
    expect(loadSettings({ service: 'context', env: {}, checks }).auth.token_secret).toBe(DEV_TOKEN_SECRET)
    expect(loadSettings({ service: 'context', env: { WS_AUTH_SECRET: 'prod-secret' }, checks }).auth.token_secret).toBe('prod-secret')
  })

  it('production (NODE_ENV or auth.required) refuses the default and an empty secret, naming the file and the key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'roomcast-token-'))
    const file = join(dir, 'context.yaml')
    writeFileSync(file, 'auth:\n  required: false\n')
    const problems = (env: NodeJS.ProcessEnv, f = file) => {
      try {
        loadSettings({ service: 'context', file: f, env, checks })
      } catch (err) {
        if (err instanceof SettingsError) return err
      }
      return null
    }
    const refused = problems({ NODE_ENV: 'production' })
    expect(refused?.message).toContain(file)
    expect(refused?.problems).toEqual([expect.stringMatching(/^auth\.token_secret: the development default .* refused in production/)])
    expect(problems({ NODE_ENV: 'production', WS_AUTH_SECRET: '' })?.problems).toEqual([expect.stringMatching(/^auth\.token_secret: must not be empty/)])
    const required = join(dir, 'required.yaml')
    writeFileSync(required, 'auth:\n  required: true\n')
    expect(problems({}, required)?.problems).toEqual([expect.stringMatching(/^auth\.token_secret: the development default/)])
    expect(problems({ NODE_ENV: 'production', WS_AUTH_SECRET: 'a-real-secret' })).toBeNull()
    expect(problems({ NODE_ENV: 'test' })).toBeNull()
  })

  it('only services that take flat tokens run the check', () => {
    expect(loadSettings({ service: 'workflow', env: { NODE_ENV: 'production' } }).environment).toBe('production')
    expect(tokenRequired(parseSettings({}))).toBe(false)
    expect(tokenRequired(parseSettings({ environment: 'production' }))).toBe(true)
  })
})

describe('the context service answers to the DCM variables WS_PORT and HOST', () => {
  const envAliases = { port: 'WS_PORT', host: 'HOST' }
  it('WS_PORT and HOST set port and host, below ROOMCAST_CONTEXT_*; other services ignore them', () => {
    expect(loadSettings({ service: 'context', env: { WS_PORT: '4000', HOST: '0.0.0.0' }, envAliases })).toMatchObject({ port: 4000, host: '0.0.0.0' })
    expect(loadSettings({ service: 'context', env: { WS_PORT: '4000', ROOMCAST_CONTEXT_PORT: '4001', HOST: 'h', ROOMCAST_HOST: '::1' }, envAliases })).toMatchObject({ port: 4001, host: '::1' })
    expect(loadSettings({ service: 'workflow', env: { WS_PORT: '4000', HOST: '0.0.0.0' } })).toMatchObject({ port: 0, host: '127.0.0.1' })
    expect(() => loadSettings({ service: 'context', env: { WS_PORT: 'x' }, envAliases })).toThrow(/WS_PORT: expected an integer/)
  })
})
