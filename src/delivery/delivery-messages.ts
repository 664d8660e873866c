import { type DeliveryMessage, type HandoverEntry, MAX_HANDOVER_BYTES, MAX_HANDOVER_ENTRIES } from '../broker/handover-messages.js'

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
