import type { Settings } from '../config/settings.js'
import { AppError, ErrorCode } from '../protocol/codes.js'
import { TOKEN_FAILURE_MESSAGES, verifyHmacToken } from './hmac-token.js'
import { tokenRequired } from './token-policy.js'

/** What a flat client sends to identify itself: an auth frame's fields, or the upgrade URL's query. */
export interface FlatClaimInput {
  readonly agent_id?: unknown
  readonly session_id?: unknown
  readonly token?: unknown
}

/** Who the client is, once verified. */
export interface VerifiedAgent {
  readonly agent_id: string
  readonly session_id?: string
  /** The token's expiry (seconds since the epoch); absent without a token. */
  readonly exp?: number
}

const MAX_ID = 200
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const ID = /^[^\s/:\u0000-\u001f\u007f]+$/u

/** An agent or session id as a client may name one: it becomes part of a channel name (`agents/{id}`). */
function idProblem(value: unknown, field: string): string | null {
  if (typeof value !== 'string' || value.length === 0) return `Missing or malformed ${field}`
  if (value.length > MAX_ID) return `${field} longer than ${MAX_ID} characters`
  if (!ID.test(value)) return `${field} must not contain whitespace, '/', ':' or control characters`
  return null
}

const fail = (message: string) => new AppError(ErrorCode.AUTH_FAILED, message)

/**
 * The context service's identity check (docs/protocol.md B): a token, when given, must be a
 * valid HMAC token under `auth.token_secret`, and any agent_id/session_id sent beside it must
 * match its claims; without a token, development accepts `agent_id` alone and production
 * (`environment: production` or `auth.required`) refuses. Throws AppError AUTH_FAILED.
 */
export function verifyFlatClaims(input: FlatClaimInput, settings: Settings): VerifiedAgent {
  if (input.token !== undefined && input.token !== null && input.token !== '') return fromToken(input, settings)
  if (tokenRequired(settings)) throw fail('A valid token is required')
  const agentProblem = idProblem(input.agent_id, 'agent_id')
  if (agentProblem !== null) throw fail(agentProblem)
  if (input.session_id === undefined || input.session_id === null) return { agent_id: input.agent_id as string }
  const sessionProblem = idProblem(input.session_id, 'session_id')
  if (sessionProblem !== null) throw fail(sessionProblem)
  return { agent_id: input.agent_id as string, session_id: input.session_id as string }
}

function fromToken(input: FlatClaimInput, settings: Settings): VerifiedAgent {
  const result = verifyHmacToken(input.token, settings.auth.token_secret)
  if (!result.ok) throw fail(TOKEN_FAILURE_MESSAGES[result.reason])
  const { agentId, sessionId, exp } = result.claims
  const agentProblem = idProblem(agentId, 'agent_id')
  if (agentProblem !== null) throw fail(`Token ${agentProblem}`)
  if (input.agent_id !== undefined && input.agent_id !== null && input.agent_id !== agentId) throw fail('agent_id does not match the token')
  const session = sessionId ?? (input.session_id === undefined || input.session_id === null ? null : input.session_id)
  if (sessionId !== null && input.session_id !== undefined && input.session_id !== null && input.session_id !== sessionId) {
    throw fail('session_id does not match the token')
  }
  if (session === null) return { agent_id: agentId, exp }
  // A session named beside a token that names none is the client's claim: checked like one.
  const sessionProblem = idProblem(session, 'session_id')
  if (sessionProblem !== null) throw fail(sessionProblem)
  return { agent_id: agentId, session_id: session as string, exp }
}
