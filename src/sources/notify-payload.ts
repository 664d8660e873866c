import { z } from 'zod'
import type { JsonObject } from '../protocol/messages.js'

/**
 * What a PostgreSQL notification may carry (docs/protocol.md B): an event inline, or, for
 * payloads over NOTIFY's 8,000-byte limit, a reference to a row holding its data.
 */
const RefSchema = z
  .object({
    table: z.string().min(1).max(130),
    id: z.union([z.string().min(1).max(200), z.number().int()]),
  })
  .strict()

export const NotifyPayloadSchema = z.union([
  z.looseObject({ channel: z.string(), event: z.string(), data: z.record(z.string(), z.unknown()), ref: z.undefined().optional() }),
  z.looseObject({ channel: z.string(), event: z.string(), ref: RefSchema, data: z.undefined().optional() }),
])

export type NotifyPayload =
  | { readonly kind: 'inline'; readonly channel: string; readonly event: string; readonly data: JsonObject }
  | { readonly kind: 'ref'; readonly channel: string; readonly event: string; readonly table: string; readonly id: string | number }

export type ParsedNotification = { readonly ok: true; readonly value: NotifyPayload } | { readonly ok: false; readonly reason: string }

/** Parses one notification's text; never throws. The reason is for the log, not for a client. */
export function parseNotification(text: string): ParsedNotification {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    return { ok: false, reason: 'payload is not JSON' }
  }
  const parsed = NotifyPayloadSchema.safeParse(doc)
  if (!parsed.success) {
    return { ok: false, reason: 'expected {"channel","event","data":{…}} or {"channel","event","ref":{"table","id"}}' }
  }
  const v = parsed.data
  if (v.ref !== undefined) return { ok: true, value: { kind: 'ref', channel: v.channel, event: v.event, table: v.ref.table, id: v.ref.id } }
  return { ok: true, value: { kind: 'inline', channel: v.channel, event: v.event, data: v.data as JsonObject } }
}

/** `"schema"."table"` for a name already checked against the identifier pattern and the allow-list. */
export function quoteTable(table: string): string {
  return table
    .split('.')
    .map((part) => `"${part}"`)
    .join('.')
}
