import { randomUUID } from 'node:crypto'
import { MAX_JSON_DEPTH, textTooDeep } from './json-depth.js'
import type { Codec, DirectMessage, Inbound, JsonObject, Publication, WelcomeInfo } from './messages.js'

/** The nine `type` values of the envelope (PROTOCOL.md A.1). */
const TYPES = new Set(['request', 'response', 'event', 'error', 'subscribe', 'unsubscribe', 'ping', 'pong', 'ack'])

const utf8 = new TextDecoder('utf-8', { fatal: true })

function toText(raw: Buffer | ArrayBuffer | Buffer[]): string {
  if (Array.isArray(raw)) return utf8.decode(Buffer.concat(raw))
  return utf8.decode(raw instanceof ArrayBuffer ? new Uint8Array(raw) : raw)
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** A key that, when present, must be a string (PROTOCOL.md A.1: null is not accepted). */
function badOptionalString(obj: JsonObject, key: string): boolean {
  return key in obj && typeof obj[key] !== 'string'
}

/** Decodes one frame of the envelope dialect. Never throws. */
export function decodeEnvelope(raw: Buffer | ArrayBuffer | Buffer[]): Inbound {
  let msg: unknown
  try {
    const text = toText(raw)
    if (textTooDeep(text)) return { kind: 'invalid', message: `Frame is nested deeper than ${MAX_JSON_DEPTH} levels` }
    msg = JSON.parse(text)
  } catch {
    return { kind: 'invalid', message: 'Frame is not valid JSON' }
  }
  if (!isObject(msg)) return { kind: 'invalid', message: 'Frame must be a JSON object' }
  const type = msg.type
  if (typeof type !== 'string' || !TYPES.has(type)) {
    return { kind: 'invalid', message: `Unknown or missing message type: ${JSON.stringify(type ?? null).slice(0, 64)}` }
  }
  if ('data' in msg && !isObject(msg.data)) return { kind: 'invalid', message: "Field 'data' must be an object" }
  for (const key of ['id', 'timestamp', 'event']) {
    if (badOptionalString(msg, key)) return { kind: 'invalid', message: `Field '${key}' must be a string` }
  }
  const cid = msg.correlation_id
  if (cid !== undefined && cid !== null && typeof cid !== 'string') {
    return { kind: 'invalid', message: "Field 'correlation_id' must be a string or null" }
  }
  const data = (msg.data as JsonObject | undefined) ?? {}
  const event = (msg.event as string | undefined) ?? null
  // A.4 (extension): the answer correlates to correlation_id, else to the request's own id.
  const correlationId = (cid as string | null | undefined) ?? (msg.id as string | undefined) ?? null

  switch (type) {
    case 'request':
      return { kind: 'request', op: event, data, correlationId }
    case 'subscribe':
    case 'unsubscribe':
      return { kind: 'request', op: type, data, correlationId }
    case 'event':
      // A.3 (fix): the Python WebSocketClient subscribes with type:"event", event:"subscribe".
      if (event === 'subscribe' || event === 'unsubscribe') return { kind: 'request', op: event, data, correlationId }
      return { kind: 'ignored' }
    case 'ping':
      return { kind: 'ping', correlationId }
    case 'ack':
      return { kind: 'ack', messageId: data.message_id, correlationId }
    default:
      return { kind: 'ignored' }
  }
}

// Nine keys, in order, compact. Built by hand so a broadcast is serialised exactly once.
function frame(
  type: string,
  correlationId: string | null,
  event: string | null,
  data: string,
  room: string | null,
  errorCode: string | null,
  errorMessage: string | null,
  id: string = randomUUID(),
  timestamp: string = new Date().toISOString(),
): string {
  return (
    `{"id":"${id}","correlation_id":${correlationId === null ? 'null' : JSON.stringify(correlationId)}` +
    `,"type":"${type}","event":${event === null ? 'null' : JSON.stringify(event)},"data":${data}` +
    `,"timestamp":"${timestamp}","room":${room === null ? 'null' : JSON.stringify(room)}` +
    `,"error_code":${errorCode === null ? 'null' : JSON.stringify(errorCode)}` +
    `,"error_message":${errorMessage === null ? 'null' : JSON.stringify(errorMessage)}}`
  )
}

/** The `envelope` dialect of mcp_common.websocket (PROTOCOL.md A). */
export const envelopeCodec: Codec = {
  decode: decodeEnvelope,
  encodeEvent(pub: Publication): string {
    return frame('event', null, pub.event, JSON.stringify(pub.data), pub.channel, null, null, pub.id, pub.timestamp)
  },
  encodeDirect(msg: DirectMessage): string {
    return frame('event', null, msg.event, JSON.stringify(msg.data), null, null, null, msg.id, msg.timestamp)
  },
  encodeResponse(op: string, data: JsonObject, correlationId: string | null): string {
    return frame('response', correlationId, op, JSON.stringify(data), null, null, null)
  },
  encodeError(code: string, message: string, correlationId: string | null): string {
    return frame('error', correlationId, null, '{}', null, code, message)
  },
  encodePong(correlationId: string | null): string {
    return frame('pong', correlationId, null, '{}', null, null, null)
  },
  encodeWelcome(info: WelcomeInfo): string {
    const data = {
      connection_id: info.connectionId,
      server: info.server,
      message: info.message,
      authenticated: info.authenticated,
      secure: info.secure,
      rate_limit: info.rateLimit,
    }
    return frame('event', null, 'session.created', JSON.stringify(data), null, null, null)
  },
}
