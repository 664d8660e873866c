import { describe, expect, it } from 'vitest'
import { verifyFlatClaims } from '../../src/auth/flat-verifier.js'
import { signHmacToken } from '../../src/auth/hmac-token.js'
import { AppError, parseSettings } from '../../src/index.js'

const SECRET = 'the-context-test-secret'
const dev = parseSettings({ auth: { token_secret: SECRET } })
const prod = parseSettings({ environment: 'production', auth: { token_secret: SECRET } })
const refusal = (fn: () => unknown): string => {
  try {
    fn()
  } catch (err) {
    if (err instanceof AppError && err.code === 'AUTH_FAILED') return err.message
    throw err
  }
  throw new Error('expected AUTH_FAILED')
}

describe('flat identity: HMAC token or, in development, agent_id alone', () => {
  it('development accepts agent_id (and session_id) alone; production refuses without a token', () => {
    expect(verifyFlatClaims({ agent_id: 'a1', session_id: 's1' }, dev)).toEqual({ agent_id: 'a1', session_id: 's1' })
    expect(verifyFlatClaims({ agent_id: 'a1' }, dev)).toEqual({ agent_id: 'a1' })
    expect(refusal(() => verifyFlatClaims({ agent_id: 'a1' }, prod))).toBe('A valid token is required')
    expect(refusal(() => verifyFlatClaims({ agent_id: 'a1' }, parseSettings({ auth: { required: true, token_secret: SECRET } })))).toBe('A valid token is required')
  })

  it('ids that would break a channel name are refused', () => {
    expect(refusal(() => verifyFlatClaims({}, dev))).toBe('Missing or malformed agent_id')
    expect(refusal(() => verifyFlatClaims({ agent_id: 42 }, dev))).toBe('Missing or malformed agent_id')
    expect(refusal(() => verifyFlatClaims({ agent_id: 'a/b' }, dev))).toMatch(/agent_id must not contain/)
    expect(refusal(() => verifyFlatClaims({ agent_id: 'x'.repeat(201) }, dev))).toMatch(/longer than 200/)
    expect(refusal(() => verifyFlatClaims({ agent_id: 'a', session_id: '' }, dev))).toBe('Missing or malformed session_id')
  })

  it('a valid token identifies the agent and its session, with the token\'s exp, in production too', () => {
    const now = Date.now()
    const exp = Math.floor(now / 1000) + 600
    const token = signHmacToken({ agentId: 'a1', sessionId: 's1' }, SECRET, 600, now)
    expect(verifyFlatClaims({ token }, prod)).toEqual({ agent_id: 'a1', session_id: 's1', exp })
    expect(verifyFlatClaims({ token, agent_id: 'a1', session_id: 's1' }, prod)).toEqual({ agent_id: 'a1', session_id: 's1', exp })
    expect(verifyFlatClaims({ token: signHmacToken({ agentId: 'a1' }, SECRET, 600, now), session_id: 's9' }, prod)).toEqual({ agent_id: 'a1', session_id: 's9', exp })
    expect(verifyFlatClaims({ token: signHmacToken({ agentId: 'a1' }, SECRET, 600, now) }, prod)).toEqual({ agent_id: 'a1', exp })
  })

  it('forged, expired, garbled and mismatched tokens are refused with the reason', () => {
    const token = signHmacToken({ agentId: 'a1', sessionId: 's1' }, SECRET)
    expect(refusal(() => verifyFlatClaims({ token: signHmacToken({ agentId: 'a1' }, 'another-secret') }, dev))).toBe('Invalid token signature')
    expect(refusal(() => verifyFlatClaims({ token: signHmacToken({ agentId: 'a1' }, SECRET, -5) }, dev))).toBe('Token expired')
    expect(refusal(() => verifyFlatClaims({ token: 'garbled' }, dev))).toMatch(/^Malformed token/)
    expect(refusal(() => verifyFlatClaims({ token: 17 }, dev))).toMatch(/^Malformed token/)
    expect(refusal(() => verifyFlatClaims({ token, agent_id: 'someone-else' }, dev))).toBe('agent_id does not match the token')
    expect(refusal(() => verifyFlatClaims({ token, session_id: 's2' }, dev))).toBe('session_id does not match the token')
    expect(refusal(() => verifyFlatClaims({ token: signHmacToken({ agentId: 'a/b' }, SECRET) }, dev))).toMatch(/^Token agent_id must not contain/)
  })
})
