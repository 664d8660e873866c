import { z } from 'zod'
import type { JsonObject } from '../protocol/messages.js'

/**
 * What crosses from PostgreSQL (docs/postgres.md). A notification is only a wake-up naming a
 * row of the outbox table: any role may NOTIFY, so its text is never an event. The event is the
 * row, which only the producers' SECURITY DEFINER functions may write.
 */

/** A bigserial id: 1 … 2^63−1, in decimal without a sign or leading zeros. */
const OUTBOX_ID = /^[1-9][0-9]{0,18}$/
const MAX_ID = 2n ** 63n - 1n

export type ParsedNotification = { readonly ok: true; readonly id: bigint } | { readonly ok: false; readonly reason: string }

/** Parses one notification's text as an outbox id; never throws. The reason is for the log, not for a client. */
export function parseNotification(text: string): ParsedNotification {
  const trimmed = text.trim()
  if (!OUTBOX_ID.test(trimmed)) return { ok: false, reason: `expected the id of an outbox row (digits), got ${text.length} characters` }
  const id = BigInt(trimmed)
  return id <= MAX_ID ? { ok: true, id } : { ok: false, reason: 'id out of the bigint range' }
}

/** One row of the outbox as the source reads it (`SELECT id, channel, event, data`). */
export const OutboxRowSchema = z.object({
  id: z.string().regex(OUTBOX_ID),
  channel: z.string().min(1).max(500),
  event: z.string().min(1).max(200),
  data: z.record(z.string(), z.unknown()),
})

export interface OutboxEvent {
  readonly id: bigint
  readonly channel: string
  readonly event: string
  readonly data: JsonObject
}

/** Validates a row read from the outbox; null when it does not have the shape above. */
export function parseOutboxRow(row: unknown): OutboxEvent | null {
  const parsed = OutboxRowSchema.safeParse(row)
  if (!parsed.success) return null
  return { id: BigInt(parsed.data.id), channel: parsed.data.channel, event: parsed.data.event, data: parsed.data.data as JsonObject }
}

/** `"schema"."table"` for a name already checked against the settings' table pattern. */
export function quoteTable(table: string): string {
  return table
    .split('.')
    .map((part) => `"${part}"`)
    .join('.')
}
