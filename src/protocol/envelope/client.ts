import { isObject, parseFrame, readPosition, str, uuid } from '../json.js'
import { TOKEN_EXPIRING_EVENT } from './frame.js'
import type { ClientCodec, JsonObject, RawFrame, ServerMessage, StreamPosition } from '../messages.js'

/**
 * A client frame: `id` and `correlation_id` both set to `id`, so every server (and both of its
 * matching rules, docs/protocol.md A.4) answers under it. Absent keys are left out: the envelope
 * refuses a null `event` on input.
 */
function request(type: string, event: string | null, data: JsonObject, id: string): string {
  const head = event === null ? { id, correlation_id: id, type } : { id, correlation_id: id, type, event }
  return JSON.stringify({ ...head, data, timestamp: new Date().toISOString() })
}

const text = (v: unknown): string | null => (typeof v === 'string' ? v : null)

/** Decodes one server frame of the envelope dialect. Never throws. */
export function decodeEnvelopeServerFrame(raw: RawFrame): ServerMessage {
  const parsed = parseFrame(raw)
  if (!parsed.ok) return { kind: 'invalid', message: parsed.message }
  const msg = parsed.msg
  const data = isObject(msg.data) ? msg.data : {}
  const correlationId = text(msg.correlation_id)
  switch (msg.type) {
    case 'event':
      if (msg.event === 'session.created' && typeof data.connection_id === 'string') {
        return { kind: 'welcome', connectionId: data.connection_id, data }
      }
      if (typeof msg.event !== 'string') return { kind: 'invalid', message: 'Event frame without an event name' }
      if (msg.event === TOKEN_EXPIRING_EVENT && msg.room === null && typeof data.expires_at === 'string') {
        const expiresAt = Date.parse(data.expires_at)
        if (!Number.isNaN(expiresAt)) return { kind: 'tokenExpiring', expiresAt }
      }
      return { kind: 'event', id: text(msg.id), channel: text(msg.room), event: msg.event, data, timestamp: text(msg.timestamp), position: readPosition(msg) }
    case 'response':
      return { kind: 'response', op: text(msg.event), data, correlationId }
    case 'error':
      return { kind: 'error', code: text(msg.error_code) ?? 'UNKNOWN', message: text(msg.error_message) ?? '', correlationId }
    case 'pong':
      return { kind: 'pong', correlationId }
    case 'ping':
      return { kind: 'ping' }
    default:
      return { kind: 'invalid', message: `Unexpected frame type ${str(text(msg.type))}` }
  }
}

/** The client side of the `envelope` dialect (docs/protocol.md A). */
export const envelopeClientCodec: ClientCodec = {
  encodeRequest: (op, data, id) => request('request', op, data, id),
  encodeSubscribe(channel: string, id: string, since?: StreamPosition): string {
    return request('request', 'subscribe', since === undefined ? { channel } : { channel, since }, id)
  },
  encodeUnsubscribe: (channel, id) => request('request', 'unsubscribe', { channel }, id),
  encodePublish: (channel, event, data, id) => request('request', 'publish', { channel, event, data }, id),
  encodeAuth: (credentials, id) => request('request', 'auth', credentials, id),
  // The compact form the server reads without parsing (docs/protocol.md A.8).
  encodeAck: (ids) => JSON.stringify({ type: 'ack', data: ids.length === 1 ? { message_id: ids[0] } : { message_ids: ids } }),
  encodePing: (id) => request('ping', null, {}, id),
  encodePong: () => JSON.stringify({ id: uuid(), type: 'pong', data: {}, timestamp: new Date().toISOString() }),
  decode: decodeEnvelopeServerFrame,
}
