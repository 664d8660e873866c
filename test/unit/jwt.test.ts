import { SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { InvalidTokenError, signToken, verifyToken } from '../../src/auth/jwt.js'

const SECRET = 'jwt-unit-secret-0123456789'
const key = new TextEncoder().encode(SECRET)
const inAnHour = () => Math.floor(Date.now() / 1000) + 3600
const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')

describe('verifyToken: the guards of src/auth/jwt.ts (docs/auth.md)', () => {
  it('accepts an HS256 token with user_id and exp; the identity expires with it', async () => {
    const exp = inAnHour()
    const token = await new SignJWT({ user_id: 'alice', permissions: ['workflow:read'] }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt().setExpirationTime(exp).sign(key)
    expect(await verifyToken(token, SECRET)).toEqual({ userId: 'alice', permissions: ['workflow:read'], expiresAt: exp * 1000 })
    expect(await verifyToken(await signToken({ userId: 'alice' }, SECRET), SECRET)).toMatchObject({ userId: 'alice', permissions: [] })
  })

  it('refuses a token without exp, even well signed with HS256', async () => {
    const noExp = await new SignJWT({ user_id: 'alice', permissions: ['admin'] }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt().sign(key)
    await expect(verifyToken(noExp, SECRET)).rejects.toBeInstanceOf(InvalidTokenError)
  })

  it.each(['HS384', 'HS512'])('refuses a token signed with the right secret under %s (only HS256 is accepted)', async (alg) => {
    const other = await new SignJWT({ user_id: 'alice', permissions: ['admin'] }).setProtectedHeader({ alg, typ: 'JWT' }).setIssuedAt().setExpirationTime(inAnHour()).sign(key)
    await expect(verifyToken(other, SECRET)).rejects.toBeInstanceOf(InvalidTokenError)
  })

  it('refuses an unsigned token (alg none)', async () => {
    const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ user_id: 'alice', permissions: ['admin'], exp: inAnHour() })}.`
    await expect(verifyToken(unsigned, SECRET)).rejects.toBeInstanceOf(InvalidTokenError)
  })

  it('refuses an expired token, another secret and a token without user_id', async () => {
    await expect(verifyToken(await signToken({ userId: 'alice' }, SECRET, -10), SECRET)).rejects.toBeInstanceOf(InvalidTokenError)
    await expect(verifyToken(await signToken({ userId: 'alice' }, 'another-secret-0123456789'), SECRET)).rejects.toBeInstanceOf(InvalidTokenError)
    const noUser = await new SignJWT({ permissions: ['admin'] }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(inAnHour()).sign(key)
    await expect(verifyToken(noUser, SECRET)).rejects.toBeInstanceOf(InvalidTokenError)
  })
})

describe('verifyToken: a user_id every instance can pass on (docs/auth.md)', () => {
  it('accepts a user_id of up to 1,024 characters, refuses a longer one (other instances could not list it in presence)', async () => {
    expect(await verifyToken(await signToken({ userId: 'u'.repeat(1024) }, SECRET), SECRET)).toMatchObject({ userId: 'u'.repeat(1024) })
    await expect(verifyToken(await signToken({ userId: 'u'.repeat(1025) }, SECRET), SECRET)).rejects.toBeInstanceOf(InvalidTokenError)
  })
})
