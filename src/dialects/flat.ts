import { randomBytes, randomUUID } from 'node:crypto'
import type { Identity } from '../auth/identity.js'
import { tokenRequired } from '../auth/token-policy.js'
import type { Settings } from '../config/settings.js'
import { AppError, ErrorCode } from '../protocol/codes.js'
import { flatServerCodec } from '../protocol/flat/server.js'
import type { JsonObject } from '../protocol/messages.js'
import { startAppPingKeepalive } from './app-ping-keepalive.js'
import type { Dialect } from './dialect.js'

/** What a flat client authenticates with: an auth frame's fields, or the upgrade URL's query. */
export interface FlatCredentials {
  readonly agent_id?: unknown
  readonly session_id?: unknown
  readonly token?: unknown
}

/** Who verified flat credentials say the client is. */
export interface FlatIdentity {
  readonly agent_id: string
  readonly session_id?: string
  /** The token's expiry (seconds since the epoch), when the credential has one: the connection is warned, then closed 4001 at it. */
  readonly exp?: number
}

/**
 * Checks flat credentials (e.g. an HMAC token, src/auth/hmac-token.ts); throws AppError
 * AUTH_FAILED for a client's fault. Injected into flatDialect() by the service.
 */
export type FlatVerifier = (credentials: FlatCredentials, settings: Settings) => FlatIdentity | Promise<FlatIdentity>

/**
 * Development mode: trusts `agent_id` (and `session_id`) as given, without a token. Refuses in
 * production (`environment: production` or `auth.required`): production needs a real verifier.
 */
export const devFlatVerifier: FlatVerifier = (credentials, settings) => {
  if (tokenRequired(settings)) throw new AppError(ErrorCode.AUTH_FAILED, 'Token verification is not configured on this service')
  const { agent_id: agentId, session_id: sessionId } = credentials
  if (typeof agentId !== 'string' || agentId.length === 0) throw new AppError(ErrorCode.AUTH_FAILED, 'Missing or malformed agent_id')
  if (sessionId !== undefined && (typeof sessionId !== 'string' || sessionId.length === 0)) {
    throw new AppError(ErrorCode.AUTH_FAILED, 'Malformed session_id')
  }
  return sessionId === undefined ? { agent_id: agentId } : { agent_id: agentId, session_id: sessionId }
}

/** The query parameters read on connect (docs/protocol.md B). */
const QUERY_KEYS = ['agent_id', 'session_id', 'token'] as const

/** `ws_<base36 ms>_<random base36>`, the DCM connection id format. */
function connectionId(): string {
  const random = BigInt(`0x${randomBytes(8).toString('hex')}`).toString(36)
  return `ws_${Date.now().toString(36)}_${random}`
}

function toIdentity(flat: FlatIdentity): Identity {
  return {
    userId: flat.agent_id,
    permissions: [],
    ...(flat.session_id === undefined ? {} : { sessionId: flat.session_id }),
    ...(flat.exp === undefined ? {} : { expiresAt: flat.exp * 1000 }),
  }
}

/** The agent (and session) an answer names. */
function agentFields(identity: Identity): JsonObject {
  return identity.sessionId === undefined ? { agent_id: identity.userId } : { agent_id: identity.userId, session_id: identity.sessionId }
}

export interface FlatDialectOptions {
  /** How credentials are checked; default devFlatVerifier (agent_id alone, development only). */
  readonly verifier?: FlatVerifier
  /** What is wrong with a service's settings for this verifier (e.g. tokenSecretProblems), checked at construction and by the CLI. */
  readonly settingsProblems?: (settings: Settings) => string[]
}

/**
 * The `flat` dialect of the DCM context manager and the Cluso workspace (docs/protocol.md B):
 * a `connected` frame, acks with echoed ids, auth at any time or from the upgrade's query,
 * app-level `{"type":"ping"}` keepalive with close 4000 after `flat.heartbeat_timeout`.
 */
export function flatDialect(options: FlatDialectOptions = {}): Dialect {
  const verifier = options.verifier ?? devFlatVerifier
  return {
    name: 'flat',
    codec: flatServerCodec,
    newConnectionId: connectionId,
    newEventId: () => `msg_${randomUUID()}`,
    settingsProblems: (settings) => options.settingsProblems?.(settings) ?? [],
    permissionsInTokens: false,
    authFirst: () => false,
    upgradeCredentials(url: URL): JsonObject | null {
      const out: JsonObject = {}
      for (const key of QUERY_KEYS) {
        const v = url.searchParams.get(key)
        if (v !== null) out[key] = v
      }
      return Object.keys(out).length > 0 ? out : null
    },
    verify: async (credentials, settings) => toIdentity(await verifier(credentials, settings)),
    authAnswer: agentFields,
    refreshAnswer: (identity) => ({ ...agentFields(identity), expires_at: identity.expiresAt ?? null }),
    identityChannels: (identity) => [`agents/${identity.userId}`, ...(identity.sessionId === undefined ? [] : [`sessions/${identity.sessionId}`])],
    startKeepalive: (hooks, settings) =>
      startAppPingKeepalive(hooks, { interval: settings.flat.ping_interval, timeout: settings.flat.heartbeat_timeout, ping: flatServerCodec.encodePing }),
  }
}
