import { createHmac, timingSafeEqual } from 'node:crypto'
import { z } from 'zod'

/**
 * The flat dialect's tokens (docs/protocol.md B): `P.S`, where P is the base64url (no padding)
 * JSON payload `{agent_id, session_id?, exp}` (exp in seconds) and S the base64url HMAC-SHA256
 * of P under the service's secret.
 */

/** The seed's development secret; a production service refuses to start with it. */
export const DEV_TOKEN_SECRET = 'dcm-dev-secret-change-me'

/** Default lifetime of a minted token, in seconds (1 h). */
export const TOKEN_TTL_SECONDS = 3600

/** Longest token accepted: an identity is small, and a huge string is not worth hashing. */
const MAX_TOKEN_LENGTH = 4096

const TokenPayloadSchema = z.looseObject({
  agent_id: z.string().min(1).max(200),
  session_id: z.string().min(1).max(200).optional(),
  exp: z.number().int().positive(),
})

/** What a valid token says. */
export interface TokenClaims {
  readonly agentId: string
  readonly sessionId: string | null
  /** Expiry, in seconds since the epoch. */
  readonly exp: number
}

/** Why a token was refused. */
export type TokenFailure = 'malformed' | 'bad_signature' | 'expired' | 'missing_agent_id'

export type TokenResult = { readonly ok: true; readonly claims: TokenClaims } | { readonly ok: false; readonly reason: TokenFailure }

/** The sentence a client is told for each failure (never which part of a signature differed). */
export const TOKEN_FAILURE_MESSAGES: Readonly<Record<TokenFailure, string>> = {
  malformed: 'Malformed token: expected base64url(payload).base64url(signature)',
  bad_signature: 'Invalid token signature',
  expired: 'Token expired',
  missing_agent_id: 'Token payload has no agent_id',
}

const BASE64URL = /^[A-Za-z0-9_-]+$/

function sign(secret: string, payload: string): Buffer {
  return createHmac('sha256', secret).update(payload).digest()
}

/** Mints a token for `agentId` (and `sessionId`), valid for `ttlSeconds` from `now` (ms). */
export function signHmacToken(
  claims: { agentId: string; sessionId?: string | null },
  secret: string,
  ttlSeconds = TOKEN_TTL_SECONDS,
  now = Date.now(),
): string {
  const body: Record<string, unknown> = { agent_id: claims.agentId }
  if (claims.sessionId != null) body.session_id = claims.sessionId
  body.exp = Math.floor(now / 1000) + ttlSeconds
  const payload = Buffer.from(JSON.stringify(body)).toString('base64url')
  return `${payload}.${sign(secret, payload).toString('base64url')}`
}

/** Checks a token's form, signature (in constant time), payload and expiry; never throws. */
export function verifyHmacToken(token: unknown, secret: string, now = Date.now()): TokenResult {
  const fail = (reason: TokenFailure): TokenResult => ({ ok: false, reason })
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return fail('malformed')
  const parts = token.split('.')
  if (parts.length !== 2) return fail('malformed')
  const [payload, signature] = parts as [string, string]
  if (!BASE64URL.test(payload) || !BASE64URL.test(signature)) return fail('malformed')
  const expected = sign(secret, payload)
  const given = Buffer.from(signature, 'base64url')
  // timingSafeEqual throws on unequal lengths; a wrong length says nothing about the secret.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return fail('bad_signature')
  let body: unknown
  try {
    body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
  } catch {
    return fail('malformed')
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return fail('malformed')
  const agentId = (body as Record<string, unknown>).agent_id
  if (agentId === undefined || agentId === null || agentId === '') return fail('missing_agent_id')
  const parsed = TokenPayloadSchema.safeParse(body)
  if (!parsed.success) return fail('malformed')
  if (parsed.data.exp * 1000 <= now) return fail('expired')
  return { ok: true, claims: { agentId: parsed.data.agent_id, sessionId: parsed.data.session_id ?? null, exp: parsed.data.exp } }
}
