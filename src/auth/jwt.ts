import type * as Jose from 'jose'
import { z } from 'zod'
import type { Identity } from './identity.js'

export type { Identity } from './identity.js'

/** Longest user_id accepted: what other instances take in a presence member (src/broker/cluster-messages.ts). */
export const MAX_USER_ID = 1024

const ClaimsSchema = z.object({
  user_id: z.string().min(1).max(MAX_USER_ID),
  permissions: z.array(z.string()).default([]),
  // Presence is jwtVerify's requiredClaims check: one guard, so a test can tell when it goes.
  exp: z.number().optional(),
})

/** Thrown for a token that is well-formed input but not acceptable (bad signature, expired, wrong claims). */
export class InvalidTokenError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'InvalidTokenError'
  }
}

/** jose, loaded with the first token (about 10 MiB of RSS a flat service or an anonymous-only one never needs). */
let jose: Promise<typeof Jose> | null = null
const loadJose = (): Promise<typeof Jose> => (jose ??= import('jose'))

/** Verifies an HS256 JWT with claims user_id, permissions, exp, iat (docs/protocol.md A.6). */
export async function verifyToken(token: string, secret: string): Promise<Identity> {
  const { jwtVerify, errors: joseErrors } = await loadJose()
  let payload: unknown
  try {
    ;({ payload } = await jwtVerify(token, new TextEncoder().encode(secret), {
      algorithms: ['HS256'],
      requiredClaims: ['exp'],
    }))
  } catch (err) {
    if (err instanceof joseErrors.JOSEError) throw new InvalidTokenError('Invalid or expired token', { cause: err })
    throw err
  }
  const claims = ClaimsSchema.safeParse(payload)
  if (!claims.success) throw new InvalidTokenError('Invalid or expired token', { cause: claims.error })
  const { user_id: userId, permissions, exp } = claims.data
  return exp === undefined ? { userId, permissions } : { userId, permissions, expiresAt: exp * 1000 }
}

/** Signs an HS256 token for `roomcast token` and tests. */
export async function signToken(
  claims: { userId: string; permissions?: readonly string[] },
  secret: string,
  ttlSeconds = 3600,
): Promise<string> {
  const { SignJWT } = await loadJose()
  return new SignJWT({ user_id: claims.userId, permissions: [...(claims.permissions ?? [])] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(new TextEncoder().encode(secret))
}
