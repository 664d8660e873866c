/**
 * The two wire vocabularies of roomcast, kept as data so that docs/errors.md can be checked
 * against them by a test. Codes are never renamed or reused (docs/protocol.md A.7).
 */

/** WebSocket close codes the server sends, with their fixed reasons (each under 123 bytes). */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  TRY_AGAIN_LATER: 1013,
  HEARTBEAT_TIMEOUT: 4000,
  TOKEN_EXPIRED: 4001,
  SLOW_CONSUMER: 4008,
} as const
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode]

/** Close code → when the server uses it. The doc table in docs/errors.md mirrors this. */
export const CLOSE_CODES: Readonly<Record<CloseCode, string>> = {
  1000: 'Normal close.',
  1001: 'Server shutting down: graceful drain, reconnect elsewhere.',
  1002: 'Protocol error: a frame that breaks RFC 6455 (e.g. unmasked, or an unknown opcode); sent by the WebSocket layer.',
  1007: 'Invalid payload: a text frame that is not UTF-8; sent by the WebSocket layer.',
  1008: 'Policy violation: authentication required, failed or timed out (a locked service: production or auth.required, both dialects).',
  1009: 'Message too big: a frame over max_payload (default 1 MiB).',
  1011: 'Internal error, e.g. an unexpected failure during authentication.',
  1013: 'Server at maximum capacity: retry later.',
  4000: 'Heartbeat timeout: the client of an app-level keepalive dialect (flat) stayed silent too long; reconnect.',
  4001: 'Token expired: the token the connection authenticated with reached its exp without a refresh; reconnect with a fresh token.',
  4008: 'Slow consumer: the backlog stayed over max_buffered_bytes (1 s) or reached twice it; cut at the TCP level (client sees 1006), logged with 4008.',
}

/** Reasons sent with close frames; reasons must stay under 123 bytes. */
export const CloseReason = {
  SHUTTING_DOWN: 'Server shutting down',
  AT_CAPACITY: 'Server at maximum capacity',
  AUTH_FAILED: 'Authentication failed',
  AUTH_REQUIRED: 'Authentication required',
  AUTH_TIMEOUT: 'Authentication timeout',
  AUTH_ERROR: 'Authentication error',
  HEARTBEAT_TIMEOUT: 'Heartbeat timeout',
  TOKEN_EXPIRED: 'Token expired',
  SLOW_CONSUMER: 'Slow consumer',
} as const

/** Error codes carried by `type:"error"` frames (envelope) and `code` (flat). */
export const ErrorCode = {
  DECODE_ERROR: 'DECODE_ERROR',
  UNKNOWN_REQUEST: 'UNKNOWN_REQUEST',
  INVALID_PARAMS: 'INVALID_PARAMS',
  INVALID_CHANNEL: 'INVALID_CHANNEL',
  INVALID_EVENT: 'INVALID_EVENT',
  FORBIDDEN: 'FORBIDDEN',
  AUTH_REQUIRED: 'AUTH_REQUIRED',
  AUTH_FAILED: 'AUTH_FAILED',
  RATE_LIMIT_EXCEEDED: 'RATE_LIMIT_EXCEEDED',
  TOO_MANY_SUBSCRIPTIONS: 'TOO_MANY_SUBSCRIPTIONS',
  NOT_FOUND: 'NOT_FOUND',
  SERVER_ERROR: 'SERVER_ERROR',
  BROKER_UNAVAILABLE: 'BROKER_UNAVAILABLE',
  TOO_MANY_CONNECTIONS: 'TOO_MANY_CONNECTIONS',
  PRESENCE_NOT_ENABLED: 'PRESENCE_NOT_ENABLED',
} as const
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

/** Error code → when it is sent. The doc table in docs/errors.md mirrors this. */
export const ERROR_CODES: Readonly<Record<ErrorCode, string>> = {
  DECODE_ERROR: 'The frame is not JSON, not an object, nested deeper than 64 levels, over max_frame_keys or max_frame_elements, has an unknown type, a non-object data, or a null/non-string id, timestamp or event. The connection stays open.',
  UNKNOWN_REQUEST: 'The request names an operation the service does not have.',
  INVALID_PARAMS: 'A request parameter is missing or has the wrong type; the message names the field.',
  INVALID_CHANNEL: 'The channel is missing, malformed, or matches none of the service\'s channel patterns.',
  INVALID_EVENT: 'The event name is not declared by the service, or its payload fails the event schema (the message names the field).',
  FORBIDDEN: 'The connection may not read or write that channel (on a locked service, without a verified identity: no publish, no read beyond public_channels); or the access policy refused an HTTP request or upgrade (Origin, Host, non-loopback caller).',
  AUTH_REQUIRED: 'Authentication is required and the first frame was not an auth request.',
  AUTH_FAILED: 'The auth token is missing, malformed, invalid or expired (on a locked service a connection left without an identity is then closed 1008); or a missing/wrong API key on HTTP or MCP.',
  RATE_LIMIT_EXCEEDED: 'The connection sent frames faster than message_rate_limit or bytes faster than byte_rate_limit; the frame was dropped.',
  TOO_MANY_SUBSCRIPTIONS: 'The connection already holds max_subscriptions channels.',
  NOT_FOUND: 'The target of the request (e.g. a connection id for a direct send) does not exist.',
  SERVER_ERROR: 'A handler failed unexpectedly; the error is logged, no stack trace is sent, the connection stays open.',
  BROKER_UNAVAILABLE: 'A publication to a history channel was refused because the broker could not store it (Redis unreachable); it was delivered to no one. Retry later.',
  TOO_MANY_CONNECTIONS: 'The client address already holds max_connections_per_ip connections: the upgrade is answered HTTP 429 before the handshake.',
  PRESENCE_NOT_ENABLED: 'A presence request names a channel that keeps no presence (no settings.presence entry matches it).',
}

/** A local error with a stable wire code and an optional cause. */
export class AppError extends Error {
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'AppError'
    this.code = code
  }
}
