import { z } from 'zod'

/**
 * What instances say to each other about tracked deliveries (src/delivery/), carried inside the
 * `delivery` cluster message (which adds the version and the origin instance):
 * - `claim`: "recipient X just connected here" — an instance holding X's events without a
 *   connection answers with
 * - `handover`: those events, addressed to the claiming instance (`to`), in chunks.
 * Everything is parsed with safeParse by the broker; a bad message is counted, never thrown.
 */
export const MAX_HANDOVER_ENTRIES = 100
/** A handover chunk stays under this many bytes of event text (the transport carries it in one message). */
export const MAX_HANDOVER_BYTES = 1024 * 1024

const RecipientSchema = z.string().min(1).max(256)

const HandoverEntrySchema = z.object({
  id: z.string().min(1).max(200),
  event: z.string().min(1).max(200),
  // The event's JSON text: the frame without its WebSocket header.
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

/** One pending event as it travels to another instance (its recipient reconnected there). */
export type HandoverEntry = z.output<typeof HandoverEntrySchema>
