import { randomUUID } from 'node:crypto'
import { InvalidTokenError, verifyToken } from '../auth/jwt.js'
import { AppError, ErrorCode } from '../protocol/codes.js'
import { envelopeServerCodec } from '../protocol/envelope/server.js'
import type { Dialect } from './dialect.js'
import { startWsPingKeepalive } from './ws-ping-keepalive.js'

/**
 * The `envelope` dialect of mcp_common.websocket (docs/protocol.md A): uuid4 ids, a
 * `session.created` welcome, first-frame JWT auth when `auth.required`, WebSocket-level pings.
 */
export const envelopeDialect: Dialect = {
  name: 'envelope',
  codec: envelopeServerCodec,
  newConnectionId: randomUUID,
  newEventId: randomUUID,
  settingsProblems: (settings, service) =>
    settings.auth.required && settings.auth.secret === null
      ? [`auth.secret: required when auth.required is true (or set ${service.toUpperCase()}_JWT_SECRET)`]
      : [],
  authFirst: (settings) => settings.auth.required,
  upgradeCredentials: () => null,
  async verify(credentials, settings) {
    const token = credentials.token
    if (typeof token !== 'string' || token.length === 0) {
      throw new AppError(ErrorCode.AUTH_FAILED, 'Missing or malformed auth token')
    }
    const secret = settings.auth.secret
    if (secret === null) throw new AppError(ErrorCode.AUTH_FAILED, 'Authentication is not configured on this service')
    try {
      return await verifyToken(token, secret)
    } catch (err) {
      if (err instanceof InvalidTokenError) throw new AppError(ErrorCode.AUTH_FAILED, 'Invalid or expired token', { cause: err })
      throw err
    }
  },
  authAnswer: (identity) => ({ status: 'authenticated', user_id: identity.userId }),
  refreshAnswer: (identity) => ({
    status: 'refreshed',
    user_id: identity.userId,
    expires_at: identity.expiresAt === undefined ? null : new Date(identity.expiresAt).toISOString(),
  }),
  identityChannels: () => [],
  startKeepalive: (hooks, settings) => startWsPingKeepalive(hooks, { interval: settings.ping_interval, timeout: settings.ping_timeout }),
}
