import { z } from 'zod'
import { type DeliveryMessage, DeliveryMessageSchema } from './handover-messages.js'
import type { DirectMessage, Publication, StreamPosition } from '../protocol/messages.js'

/**
 * What instances say to each other over the transport: a tagged union, version 1, each message
 * carrying the id of the instance that sent it. Whatever comes off the transport is parsed with
 * `safeParse`; a message that fails is counted and dropped, never thrown.
 */
const origin = z.string().min(1)
const payload = z.record(z.string(), z.unknown())

const PublicationSchema = z.object({
  id: z.string().min(1),
  channel: z.string().min(1),
  event: z.string().min(1),
  data: payload,
  timestamp: z.string(),
})

const DirectMessageSchema = z.object({
  id: z.string().min(1),
  connectionId: z.string().min(1),
  event: z.string().min(1),
  data: payload,
  timestamp: z.string(),
})

const channelName = z.string().min(1).max(1024)
const connectionId = z.string().min(1).max(256)
/** The last instant a JavaScript Date can hold (ms since the epoch): a later connected_at could not be shown. */
export const MAX_DATE_MS = 8.64e15
/** A member as sent: connection id, user id, session id, connected at (ms). */
const PresenceMemberSchema = z.tuple([connectionId, z.string().max(1024).nullable(), z.string().max(1024).nullable(), z.number().int().min(0).max(MAX_DATE_MS)])
/** 1: joined (the member, or null on a channel only counted); 0: left (the connection id, or null). */
const PresenceChangeSchema = z.union([
  z.tuple([z.literal(1), channelName, PresenceMemberSchema.nullable()]),
  z.tuple([z.literal(0), channelName, connectionId.nullable()]),
])
/** One channel of a whole copy: its subscriber count, and its members on a presence channel (else null). */
const PresenceChannelSchema = z.tuple([channelName, z.number().int().min(0), z.array(PresenceMemberSchema).nullable()])

export type PresenceMemberWire = z.output<typeof PresenceMemberSchema>
export type PresenceChange = z.output<typeof PresenceChangeSchema>
export type PresenceChannelWire = z.output<typeof PresenceChannelSchema>

export const ClusterMessageSchema = z.discriminatedUnion('type', [
  // offset and epoch: the stream position of a history channel's publication, added by the
  // history store that stored it (completeWithPosition; on Redis the script, redis-scripts.ts);
  // both or neither.
  z.object({
    v: z.literal(1),
    type: z.literal('publication'),
    origin,
    pub: PublicationSchema,
    offset: z.number().int().positive().optional(),
    epoch: z.string().min(1).max(64).optional(),
    // Set when the publisher wants each receiving instance to report its local delivery count.
    report: z.string().min(1).max(64).optional(),
  }).refine((m) => (m.offset === undefined) === (m.epoch === undefined), 'offset and epoch go together'),
  z.object({ v: z.literal(1), type: z.literal('direct'), origin, msg: DirectMessageSchema }),
  // The answer of every instance to a `direct`: whether it held the connection.
  z.object({ v: z.literal(1), type: z.literal('direct_ack'), origin, id: z.string().min(1), found: z.boolean() }),
  // An instance's answer to a publication carrying `report`: how many local subscribers got it.
  z.object({ v: z.literal(1), type: z.literal('delivery_report'), origin, id: z.string().min(1), delivered: z.number().int().min(0) }),
  // presence: the number of the sender's last presence message (cluster-presence.ts), when it keeps presence.
  z.object({ v: z.literal(1), type: z.literal('heartbeat'), origin, connections: z.number().int().min(0), presence: z.number().int().min(0).optional() }),
  z.object({ v: z.literal(1), type: z.literal('leave'), origin }),
  // At-least-once handover between instances (handover-messages.ts).
  z.object({ v: z.literal(1), type: z.literal('delivery'), origin, msg: DeliveryMessageSchema }),
  // The sender's subscribers changed (cluster-presence.ts): numbered, one message per turn.
  z.object({ v: z.literal(1), type: z.literal('presence'), origin, seq: z.number().int().positive(), changes: z.array(PresenceChangeSchema) }),
  // The sender's whole copy, after its message number `seq`.
  z.object({ v: z.literal(1), type: z.literal('presence_sync'), origin, seq: z.number().int().min(0), channels: z.array(PresenceChannelSchema) }),
  // Asks instance `of` for its whole copy.
  z.object({ v: z.literal(1), type: z.literal('presence_ask'), origin, of: z.string().min(1) }),
])

export type ClusterMessage = z.output<typeof ClusterMessageSchema>

export function publicationMessage(origin: string, pub: Publication, report?: string): string {
  const msg = { v: 1, type: 'publication', origin, pub: withoutPosition(pub) }
  return JSON.stringify(report === undefined ? msg : { ...msg, report })
}

export function deliveryReportMessage(origin: string, id: string, delivered: number): string {
  return JSON.stringify({ v: 1, type: 'delivery_report', origin, id, delivered })
}

/**
 * A publication message without its closing brace, for the history store that stores it to
 * complete with `,"offset":N,"epoch":"E"}` once it knows the position.
 */
export function publicationMessageHead(origin: string, pub: Publication, report?: string): string {
  return publicationMessage(origin, pub, report).slice(0, -1)
}

/** The message a head stands for once its position is known (what the Redis script appends too). */
export function completeWithPosition(head: string, position: StreamPosition): string {
  return `${head},"offset":${position.offset},"epoch":"${position.epoch}"}`
}

/** The publication as stored and sent: the position travels beside it, not inside. */
export function withoutPosition(pub: Publication): Publication {
  return { id: pub.id, channel: pub.channel, event: pub.event, data: pub.data, timestamp: pub.timestamp }
}

/** The publication a message carries, with its stream position when it has one. */
export function carriedPublication(msg: ClusterMessage & { type: 'publication' }): Publication {
  if (msg.offset === undefined || msg.epoch === undefined) return msg.pub
  return { ...msg.pub, position: { offset: msg.offset, epoch: msg.epoch } }
}

export function directMessage(origin: string, msg: DirectMessage): string {
  return JSON.stringify({ v: 1, type: 'direct', origin, msg })
}

export function directAckMessage(origin: string, id: string, found: boolean): string {
  return JSON.stringify({ v: 1, type: 'direct_ack', origin, id, found })
}

export function heartbeatMessage(origin: string, connections: number, presence?: number): string {
  return JSON.stringify({ v: 1, type: 'heartbeat', origin, connections, presence })
}

export function presenceMessage(origin: string, seq: number, changes: readonly PresenceChange[]): string {
  return JSON.stringify({ v: 1, type: 'presence', origin, seq, changes })
}

export function presenceSyncMessage(origin: string, seq: number, channels: readonly PresenceChannelWire[]): string {
  return JSON.stringify({ v: 1, type: 'presence_sync', origin, seq, channels })
}

export function presenceAskMessage(origin: string, of: string): string {
  return JSON.stringify({ v: 1, type: 'presence_ask', origin, of })
}

export function deliveryClusterMessage(origin: string, msg: DeliveryMessage): string {
  return JSON.stringify({ v: 1, type: 'delivery', origin, msg })
}

export function leaveMessage(origin: string): string {
  return JSON.stringify({ v: 1, type: 'leave', origin })
}

/** Parses one message off the transport; null when it is not JSON or not a valid cluster message. */
export function decodeClusterMessage(raw: string): ClusterMessage | null {
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch {
    return null
  }
  const parsed = ClusterMessageSchema.safeParse(value)
  return parsed.success ? parsed.data : null
}
