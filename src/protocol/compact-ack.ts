import type { JsonShapeLimits } from './json-shape.js'
import type { Inbound, RawFrame } from './messages.js'

/** One compact ack form: the bytes before the first id and after the last, and the keys and depth it has. */
interface CompactForm {
  readonly prefix: Uint8Array
  readonly suffix: Uint8Array
  readonly keys: number
  readonly depth: number
  /** Whether ids form a JSON array (`"a","b"` between prefix and suffix) rather than one id. */
  readonly list: boolean
}

const QUOTE = 0x22
const COMMA = 0x2c

/**
 * The fast path for the most frequent client frame of an at-least-once service: the ack of
 * tracked deliveries (docs/protocol.md A.8). An ack in a compact form, exactly
 * `<prefix><id>"}` or `<prefix><id>","<id>"]}` (envelope:
 * `{"type":"ack","data":{"message_id":"<id>"}}` and `{"type":"ack","data":{"message_ids":["<id>",…]}}`,
 * flat: the same without `data`), is read straight from the bytes: no UTF-8 decoding, no shape
 * pass, no JSON.parse. Each id must be non-empty printable ASCII without `"` or `\`, so it reads
 * the same as JSON.parse would; any other frame, spaces or key order included, gets null and
 * takes the general path, which decodes it to the same ack. Browser-safe.
 */
export class CompactAck {
  readonly #forms: readonly CompactForm[]

  /**
   * `within`: the key of the object that holds `message_id`/`message_ids` (envelope: `data`),
   * or null when the frame itself holds them (flat).
   */
  constructor(within: string | null) {
    const open = within === null ? '{"type":"ack",' : `{"type":"ack","${within}":{`
    const close = within === null ? '}' : '}}'
    const nested = within === null ? 0 : 1
    this.#forms = [
      compactForm(`${open}"message_id":"`, `"${close}`, 2 + nested, 1 + nested, false),
      compactForm(`${open}"message_ids":["`, `"]${close}`, 2 + nested, 2 + nested, true),
    ]
  }

  /** The ack a compact ack frame is, or null when the frame is anything else. */
  decode(raw: RawFrame, limits: JsonShapeLimits | undefined): Inbound | null {
    const ids = this.#read(raw, limits)
    return ids === null ? null : { kind: 'ack', messageIds: ids, correlationId: null }
  }

  #read(raw: RawFrame, limits: JsonShapeLimits | undefined): string[] | null {
    if (typeof raw === 'string') return null
    for (const form of this.#forms) {
      if (!startsAndEnds(raw, form.prefix, form.suffix)) continue
      // Limits so low that even this frame is over them: let the general path say so.
      if (limits !== undefined && (limits.maxKeys < form.keys || limits.maxDepth < form.depth)) return null
      const ids = readIds(raw, form.prefix.length, raw.length - form.suffix.length, form.list)
      if (ids === null || (limits !== undefined && ids.length > limits.maxElements)) return null
      return ids
    }
    return null
  }
}

function startsAndEnds(raw: Uint8Array, pre: Uint8Array, suf: Uint8Array): boolean {
  const end = raw.length - suf.length
  if (end <= pre.length) return false
  for (let i = 0; i < pre.length; i++) if (raw[i] !== pre[i]) return false
  for (let i = 0; i < suf.length; i++) if (raw[end + i] !== suf[i]) return false
  return true
}

/** Decodes bytes already checked to be printable ASCII: one flat string per id, cheap to hash. */
const latin1 = new TextDecoder('latin1')

/** The ids between `from` and `to`: one, or with `list` several separated by `","`; null when anything else is there. */
function readIds(raw: Uint8Array, from: number, to: number, list: boolean): string[] | null {
  const ids: string[] = []
  let start = from
  for (let i = from; i < to; i++) {
    const c = raw[i] as number
    if (c === QUOTE) {
      // Only `","` may come between two ids of a list, and never an empty id.
      if (!list || i === start || raw[i + 1] !== COMMA || raw[i + 2] !== QUOTE || i + 3 >= to) return null
      ids.push(latin1.decode(raw.subarray(start, i)))
      i += 2
      start = i + 1
      continue
    }
    // Printable ASCII, no backslash: JSON would read these bytes as these characters.
    if (c < 0x20 || c > 0x7e || c === 0x5c) return null
  }
  if (start === to) return null
  ids.push(latin1.decode(raw.subarray(start, to)))
  return ids
}

function compactForm(prefix: string, suffix: string, keys: number, depth: number, list: boolean): CompactForm {
  return { prefix: ascii(prefix), suffix: ascii(suffix), keys, depth, list }
}

function ascii(text: string): Uint8Array {
  const out = new Uint8Array(text.length)
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i)
  return out
}
