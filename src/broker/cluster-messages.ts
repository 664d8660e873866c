import { z } from 'zod'
import type { DirectMessage, Publication } from '../protocol/messages.js'

/**
 * What instances say to each other over Redis: a tagged union, version 1, each message
 * carrying the id of the instance that sent it. Whatever comes off Redis is parsed with
 * `safeParse`; a message that fails is counted and dropped, never thrown (STYLE.md 3).
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

export const ClusterMessageSchema = z.discriminatedUnion('type', [
  z.object({ v: z.literal(1), type: z.literal('publication'), origin, pub: PublicationSchema }),
  z.object({ v: z.literal(1), type: z.literal('direct'), origin, msg: DirectMessageSchema }),
  // The answer of every instance to a `direct`: whether it held the connection.
  z.object({ v: z.literal(1), type: z.literal('direct_ack'), origin, id: z.string().min(1), found: z.boolean() }),
  z.object({ v: z.literal(1), type: z.literal('heartbeat'), origin, connections: z.number().int().min(0) }),
  z.object({ v: z.literal(1), type: z.literal('leave'), origin }),
])

export type ClusterMessage = z.output<typeof ClusterMessageSchema>

export function publicationMessage(origin: string, pub: Publication): string {
  return JSON.stringify({ v: 1, type: 'publication', origin, pub })
}

export function directMessage(origin: string, msg: DirectMessage): string {
  return JSON.stringify({ v: 1, type: 'direct', origin, msg })
}

export function directAckMessage(origin: string, id: string, found: boolean): string {
  return JSON.stringify({ v: 1, type: 'direct_ack', origin, id, found })
}

export function heartbeatMessage(origin: string, connections: number): string {
  return JSON.stringify({ v: 1, type: 'heartbeat', origin, connections })
}

export function leaveMessage(origin: string): string {
  return JSON.stringify({ v: 1, type: 'leave', origin })
}

/** Parses one message off Redis; null when it is not JSON or not a valid cluster message. */
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
