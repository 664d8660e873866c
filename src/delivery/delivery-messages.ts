import { z } from 'zod'
import type { HandoverEntry } from './delivery-types.js'

/**
 * What instances say to each other about tracked deliveries, carried inside the broker's
 * `delivery` cluster message (which adds the version and the origin instance):
 * - `claim`: "recipient X just connected here" — an instance holding X's events without a
 *   connection answers with
 * - `handover`: those events, addressed to the claiming instance (`to`), in chunks.
 * Everything is parsed with safeParse by the broker; a bad message is counted, never thrown.
 */
export const MAX_HANDOVER_ENTRIES = 100
/** A handover chunk stays under this many bytes of event text (Redis carries it in one message). */
export const MAX_HANDOVER_BYTES = 1024 * 1024

const RecipientSchema = z.string().min(1).max(256)

const HandoverEntrySchema = z.object({
  id: z.string().min(1).max(200),
  event: z.string().min(1).max(200),
  text: z.string().min(2),
  attempts: z.number().int().min(1).max(100),
})

export const DeliveryMessageSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('claim'), recipient: RecipientSchema }),
  z.object({
    kind: z.literal('handover'),
    to: z.string().min(1),
    recipient: RecipientSchema,
    entries: z.array(HandoverEntrySchema).min(1).max(MAX_HANDOVER_ENTRIES),
  }),
])

export type DeliveryMessage = z.output<typeof DeliveryMessageSchema>

/** Splits handed-over events into messages of at most MAX_HANDOVER_ENTRIES entries and about MAX_HANDOVER_BYTES of text. */
export function handoverMessages(to: string, recipient: string, entries: readonly HandoverEntry[]): DeliveryMessage[] {
  const out: DeliveryMessage[] = []
  let chunk: HandoverEntry[] = []
  let bytes = 0
  for (const entry of entries) {
    if (chunk.length > 0 && (chunk.length >= MAX_HANDOVER_ENTRIES || bytes + entry.text.length > MAX_HANDOVER_BYTES)) {
      out.push({ kind: 'handover', to, recipient, entries: chunk })
      chunk = []
      bytes = 0
    }
    chunk.push(entry)
    bytes += entry.text.length
  }
  if (chunk.length > 0) out.push({ kind: 'handover', to, recipient, entries: chunk })
  return out
}
