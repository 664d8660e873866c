import { str, uuid } from '../json.js'

/**
 * One envelope frame (docs/protocol.md A.1): the nine keys, in order, compact, absent values as
 * null. Built by hand so a broadcast is serialised exactly once; `data` is JSON text already and
 * `extra` (e.g. the stream position) goes after the nine keys. Every string is JSON-escaped: an id
 * or a time from another instance is only known to be a string.
 */
export function envelopeFrame(
  type: string,
  correlationId: string | null,
  event: string | null,
  data: string,
  room: string | null = null,
  errorCode: string | null = null,
  errorMessage: string | null = null,
  id: string = uuid(),
  timestamp: string = isoNow(),
  extra = '',
): string {
  return (
    `{"id":${str(id)},"correlation_id":${str(correlationId)}` +
    `,"type":"${type}","event":${str(event)},"data":${data}` +
    `,"timestamp":${str(timestamp)},"room":${str(room)}` +
    `,"error_code":${str(errorCode)}` +
    `,"error_message":${str(errorMessage)}${extra}}`
  )
}

let isoMs = Number.NaN
let iso = ''

/** `new Date().toISOString()`, formatted once per millisecond (a storm sends several welcomes in one). */
export function isoNow(): string {
  const ms = Date.now()
  if (ms !== isoMs) {
    isoMs = ms
    iso = new Date(ms).toISOString()
  }
  return iso
}

/** The nine `type` values of the envelope. */
export const ENVELOPE_TYPES: ReadonlySet<string> = new Set(['request', 'response', 'event', 'error', 'subscribe', 'unsubscribe', 'ping', 'pong', 'ack'])

/** The event that warns a connection its token is about to expire (docs/protocol.md A.6); `room` is null. */
export const TOKEN_EXPIRING_EVENT = 'token.expiring'
