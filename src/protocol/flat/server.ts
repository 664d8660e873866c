import type { JsonShapeLimits } from '../json-shape.js'
import { CompactAck } from '../compact-ack.js'
import { ackIds, parseFrame, positionKeys, unknownType } from '../json.js'
import type { DirectMessage, Inbound, JsonObject, Publication, RawFrame, ReplyTo, ServerCodec, WelcomeInfo } from '../messages.js'

/** Client frame types of the flat dialect (docs/protocol.md B). */
const FLAT_TYPES: ReadonlySet<string> = new Set(['subscribe', 'unsubscribe', 'observe', 'unobserve', 'publish', 'auth', 'ping', 'pong', 'ack', 'presence', 'presence_stats'])

/** The client's timestamp to echo, when it sent one. */
function echoed(reply: ReplyTo): number {
  return typeof reply.timestamp === 'number' ? reply.timestamp : Date.now()
}

/** Keeps only the keys whose value is defined, so absent fields stay absent in `data`. */
function defined(obj: JsonObject): JsonObject {
  const out: JsonObject = {}
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v
  return out
}

/** Checks the fields every flat frame may carry; returns the problem, or null. */
function flatProblem(msg: JsonObject): string | null {
  if (typeof msg.type !== 'string' || !FLAT_TYPES.has(msg.type)) return unknownType(msg.type)
  if ('id' in msg && typeof msg.id !== 'string') return "Field 'id' must be a string"
  if ('timestamp' in msg && typeof msg.timestamp !== 'number' && typeof msg.timestamp !== 'string') {
    return "Field 'timestamp' must be a number or a string"
  }
  return null
}

/** The compact acks, one per tracked delivery or per batch: read without parsing (compact-ack.ts). */
// Pure: a client bundle importing the protocol module leaves the server codec out.
const COMPACT_ACK = /* @__PURE__ */ new CompactAck(null)

/** Decodes one client frame of the flat dialect. Never throws. */
export function decodeFlat(raw: RawFrame, limits?: JsonShapeLimits): Inbound {
  const compact = COMPACT_ACK.decode(raw, limits)
  if (compact !== null) return compact
  const parsed = parseFrame(raw, limits)
  if (!parsed.ok) return { kind: 'invalid', message: parsed.message }
  const msg = parsed.msg
  const problem = flatProblem(msg)
  if (problem !== null) return { kind: 'invalid', message: problem }
  const reply: ReplyTo = { correlationId: (msg.id as string | undefined) ?? null, ...(msg.timestamp !== undefined ? { timestamp: msg.timestamp as number | string } : {}) }
  switch (msg.type) {
    case 'subscribe':
    case 'unsubscribe':
      return { kind: 'request', op: msg.type, data: defined({ channel: msg.channel, since: msg.since }), ...reply }
    case 'observe':
    case 'unobserve':
      return { kind: 'request', op: msg.type, data: defined({ pattern: msg.pattern }), ...reply }
    case 'presence':
      return { kind: 'request', op: msg.type, data: defined({ channel: msg.channel, limit: msg.limit, after: msg.after }), ...reply }
    case 'presence_stats':
      return { kind: 'request', op: msg.type, data: defined({ channel: msg.channel }), ...reply }
    case 'publish':
      return { kind: 'request', op: 'publish', data: defined({ channel: msg.channel, event: msg.event, data: msg.data }), ...reply }
    case 'auth':
      return { kind: 'request', op: 'auth', data: defined({ agent_id: msg.agent_id, session_id: msg.session_id, token: msg.token }), ...reply }
    case 'ping':
      return { kind: 'ping', ...reply }
    case 'ack':
      return { kind: 'ack', messageIds: ackIds(msg), ...reply }
    default:
      // `pong`, the answer to our ping: life, counted by the session, nothing to do.
      return { kind: 'ignored' }
  }
}

/** Milliseconds since the epoch of an ISO-8601 time (the flat dialect's timestamps are numbers). */
const ms = (iso: string) => Date.parse(iso)

/** An ack: `{type, id?, success, …fields, timestamp}`; a result's own `id` is sent as `message_id`. */
function ack(reply: ReplyTo, success: boolean, fields: JsonObject): string {
  const head: JsonObject = reply.correlationId === null ? { type: 'ack' } : { type: 'ack', id: reply.correlationId }
  return JSON.stringify({ ...head, success, ...fields, timestamp: echoed(reply) })
}

function resultFields(data: JsonObject): JsonObject {
  const { status: _status, id, ...rest } = data
  return id === undefined ? rest : { ...rest, message_id: id }
}

/** The server side of the `flat` dialect (docs/protocol.md B). */
export const flatServerCodec: ServerCodec = {
  decode: decodeFlat,
  encodeEvent(pub: Publication): string {
    return (
      `{"type":"event","id":${JSON.stringify(pub.id)},"channel":${JSON.stringify(pub.channel)},"event":${JSON.stringify(pub.event)}` +
      `,"data":${JSON.stringify(pub.data)},"timestamp":${ms(pub.timestamp)}${positionKeys(pub.position)}}`
    )
  },
  encodeDirect(msg: DirectMessage): string {
    return JSON.stringify({ type: 'event', id: msg.id, event: msg.event, data: msg.data, timestamp: ms(msg.timestamp) })
  },
  encodeResponse: (_op, data, reply) => ack(reply, true, resultFields(data)),
  encodeError(code: string, message: string, reply: ReplyTo | null): string {
    if (reply !== null) return ack(reply, false, { code, error: message })
    return JSON.stringify({ error: message, code, timestamp: Date.now() })
  },
  encodePong: (reply) => JSON.stringify({ type: 'pong', timestamp: echoed(reply) }),
  encodePing: () => `{"type":"ping","timestamp":${Date.now()}}`,
  encodeTokenExpiring: (expiresAt, expiresIn) => JSON.stringify({ type: 'token_expiring', expires_at: expiresAt, expires_in: expiresIn, timestamp: Date.now() }),
  encodeWelcome: (info: WelcomeInfo) => JSON.stringify({ type: 'connected', client_id: info.connectionId, timestamp: Date.now() }),
}
