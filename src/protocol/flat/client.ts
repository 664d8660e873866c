import { isObject, parseFrame, readPosition } from '../json.js'
import type { ClientCodec, JsonObject, RawFrame, ServerMessage } from '../messages.js'

const text = (v: unknown): string | null => (typeof v === 'string' ? v : null)

/** Decodes one server frame of the flat dialect. Never throws. */
export function decodeFlatServerFrame(raw: RawFrame): ServerMessage {
  const parsed = parseFrame(raw)
  if (!parsed.ok) return { kind: 'invalid', message: parsed.message }
  const msg = parsed.msg
  // An error frame has no type: {error, code, timestamp}.
  if (msg.type === undefined && typeof msg.error === 'string') {
    return { kind: 'error', code: text(msg.code) ?? 'UNKNOWN', message: msg.error, correlationId: null }
  }
  switch (msg.type) {
    case 'connected':
      return { kind: 'welcome', connectionId: text(msg.client_id) ?? '', data: msg }
    case 'event': {
      if (typeof msg.event !== 'string') return { kind: 'invalid', message: 'Event frame without an event name' }
      const timestamp = typeof msg.timestamp === 'number' || typeof msg.timestamp === 'string' ? msg.timestamp : null
      const data = isObject(msg.data) ? msg.data : {}
      return { kind: 'event', id: text(msg.id), channel: text(msg.channel), event: msg.event, data, timestamp, position: readPosition(msg) }
    }
    case 'ack': {
      const { type: _t, id, success, code, error, timestamp: _ts, ...fields } = msg
      if (success === false) return { kind: 'error', code: text(code) ?? 'UNKNOWN', message: text(error) ?? '', correlationId: text(id) }
      return { kind: 'response', op: null, data: fields, correlationId: text(id) }
    }
    case 'pong':
      return { kind: 'pong', correlationId: null }
    case 'ping':
      return { kind: 'ping' }
    case 'token_expiring':
      if (typeof msg.expires_at !== 'number') return { kind: 'invalid', message: 'token_expiring without a numeric expires_at' }
      return { kind: 'tokenExpiring', expiresAt: msg.expires_at }
    default:
      return { kind: 'invalid', message: `Unexpected frame type ${JSON.stringify(msg.type ?? null)}` }
  }
}

const frame = (fields: JsonObject) => JSON.stringify({ ...fields, timestamp: Date.now() })

/** The client side of the `flat` dialect (docs/protocol.md B): a request `op` is a frame of that type with its fields flat. */
export const flatClientCodec: ClientCodec = {
  encodeRequest: (op, data, id) => frame({ ...data, type: op, id }),
  encodeSubscribe: (channel, id, since) => frame(since === undefined ? { type: 'subscribe', channel, id } : { type: 'subscribe', channel, since, id }),
  encodeUnsubscribe: (channel, id) => frame({ type: 'unsubscribe', channel, id }),
  encodePublish: (channel, event, data, id) => frame({ type: 'publish', channel, event, data, id }),
  encodeAuth: (credentials, id) => frame({ type: 'auth', ...credentials, id }),
  // The compact form the server reads without parsing (docs/protocol.md A.8): no timestamp.
  encodeAck: (ids) => JSON.stringify(ids.length === 1 ? { type: 'ack', message_id: ids[0] } : { type: 'ack', message_ids: ids }),
  encodePing: (id) => frame({ type: 'ping', id }),
  encodePong: () => frame({ type: 'pong' }),
  decode: decodeFlatServerFrame,
}
