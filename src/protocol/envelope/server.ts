import type { JsonShapeLimits } from '../json-shape.js'
import { CompactAck } from '../compact-ack.js'
import { ackIds, isObject, parseFrame, positionKeys, unknownType, uuid } from '../json.js'
import type { DirectMessage, Inbound, JsonObject, Publication, RawFrame, ReplyTo, ServerCodec, WelcomeInfo } from '../messages.js'
import { ENVELOPE_TYPES, envelopeFrame, isoNow, TOKEN_EXPIRING_EVENT } from './frame.js'

/** A key that, when present, must be a string (docs/protocol.md A.1: null is not accepted). */
function badOptionalString(obj: JsonObject, key: string): boolean {
  return key in obj && typeof obj[key] !== 'string'
}

/** Checks the envelope's keys; returns the problem, or null. */
function envelopeProblem(msg: JsonObject): string | null {
  if (typeof msg.type !== 'string' || !ENVELOPE_TYPES.has(msg.type)) return unknownType(msg.type)
  if ('data' in msg && !isObject(msg.data)) return "Field 'data' must be an object"
  for (const key of ['id', 'timestamp', 'event']) {
    if (badOptionalString(msg, key)) return `Field '${key}' must be a string`
  }
  const cid = msg.correlation_id
  if (cid !== undefined && cid !== null && typeof cid !== 'string') return "Field 'correlation_id' must be a string or null"
  return null
}

/**
 * Where an answer goes (docs/protocol.md A.4): correlation_id = the request's correlation_id, or,
 * when that is absent, its id. A request carrying an id AND a different correlation_id is answered
 * a second time under its id: the Python mcp_common WebSocketClient keys pending requests by id
 * while sending a fresh correlation_id, and a client matching on correlation_id still gets its own
 * answer first. One frame cannot satisfy both: both kinds of client read the same key.
 */
function replyOf(msg: JsonObject): ReplyTo {
  const cid = (msg.correlation_id as string | null | undefined) ?? null
  const id = msg.id as string | undefined
  if (cid === null) return { correlationId: id ?? null }
  return id !== undefined && id !== cid ? { correlationId: cid, requestId: id } : { correlationId: cid }
}

/** The compact acks, one per tracked delivery or per batch: read without parsing (compact-ack.ts). */
// Pure: a client bundle importing the protocol module leaves the server codec out.
const COMPACT_ACK = /* @__PURE__ */ new CompactAck('data')

/** Decodes one client frame of the envelope dialect. Never throws. */
export function decodeEnvelope(raw: RawFrame, limits?: JsonShapeLimits): Inbound {
  const compact = COMPACT_ACK.decode(raw, limits)
  if (compact !== null) return compact
  const parsed = parseFrame(raw, limits)
  if (!parsed.ok) return { kind: 'invalid', message: parsed.message }
  const msg = parsed.msg
  const problem = envelopeProblem(msg)
  if (problem !== null) return { kind: 'invalid', message: problem }
  const data = (msg.data as JsonObject | undefined) ?? {}
  const event = (msg.event as string | undefined) ?? null
  const reply = replyOf(msg)
  switch (msg.type) {
    case 'request':
      return { kind: 'request', op: event, data, ...reply }
    case 'subscribe':
    case 'unsubscribe':
      return { kind: 'request', op: msg.type, data, ...reply }
    case 'event':
      // A.3 (fix): the Python WebSocketClient subscribes with type:"event", event:"subscribe".
      if (event === 'subscribe' || event === 'unsubscribe') return { kind: 'request', op: event, data, ...reply }
      return { kind: 'ignored' }
    case 'ping':
      return { kind: 'ping', ...reply }
    case 'ack':
      return { kind: 'ack', messageIds: ackIds(data), ...reply }
    default:
      return { kind: 'ignored' }
  }
}

/** Per server name: the welcome data after its connection_id, for each (authenticated, secure). */
const welcomeTails = /* @__PURE__ */ new Map<string, { message: string; rateLimit: number; tails: (string | undefined)[] }>()

function welcomeTail(info: WelcomeInfo): string {
  let memo = welcomeTails.get(info.server)
  if (memo === undefined || memo.message !== info.message || memo.rateLimit !== info.rateLimit) {
    memo = { message: info.message, rateLimit: info.rateLimit, tails: [] }
    welcomeTails.set(info.server, memo)
  }
  const k = (info.authenticated ? 2 : 0) + (info.secure ? 1 : 0)
  let tail = memo.tails[k]
  if (tail === undefined) {
    const rest = { server: info.server, message: info.message, authenticated: info.authenticated, secure: info.secure, rate_limit: info.rateLimit }
    tail = memo.tails[k] = JSON.stringify(rest).slice(1)
  }
  return tail
}

/** The server side of the `envelope` dialect of mcp_common.websocket (docs/protocol.md A). */
export const envelopeServerCodec: ServerCodec = {
  decode: decodeEnvelope,
  encodeEvent(pub: Publication): string {
    return envelopeFrame('event', null, pub.event, JSON.stringify(pub.data), pub.channel, null, null, pub.id, pub.timestamp, positionKeys(pub.position))
  },
  encodeDirect(msg: DirectMessage): string {
    return envelopeFrame('event', null, msg.event, JSON.stringify(msg.data), null, null, null, msg.id, msg.timestamp)
  },
  encodeResponse(op: string, data: JsonObject, reply: ReplyTo): string {
    return envelopeFrame('response', reply.correlationId, op, JSON.stringify(data))
  },
  encodeError(code: string, message: string, reply: ReplyTo | null): string {
    return envelopeFrame('error', reply?.correlationId ?? null, null, '{}', null, code, message)
  },
  encodePong(reply: ReplyTo): string {
    return envelopeFrame('pong', reply.correlationId, null, '{}')
  },
  encodePing(): string {
    return envelopeFrame('ping', null, null, '{}')
  },
  encodeTokenExpiring(expiresAt: number, expiresIn: number): string {
    return envelopeFrame('event', null, TOKEN_EXPIRING_EVENT, JSON.stringify({ expires_at: new Date(expiresAt).toISOString(), expires_in: expiresIn }))
  },
  encodeWelcome(info: WelcomeInfo): string {
    // envelopeFrame('event', null, 'session.created', JSON.stringify({connection_id, server,
    // message, authenticated, secure, rate_limit})) written out: one template per connection,
    // everything after the connection id encoded once per server. A UUID and an ISO time need
    // no JSON escaping (test/unit/codecs.test.ts, "the envelope welcome", holds it to envelopeFrame's bytes).
    return (
      `{"id":"${uuid()}","correlation_id":null,"type":"event","event":"session.created","data":{"connection_id":${JSON.stringify(info.connectionId)},${welcomeTail(info)}` +
      `,"timestamp":"${isoNow()}","room":null,"error_code":null,"error_message":null}`
    )
  },
}
