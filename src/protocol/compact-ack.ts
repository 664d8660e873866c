import type { JsonShapeLimits } from './json-shape.js'
import type { RawFrame } from './messages.js'

/**
 * The fast path for the most frequent client frame of an at-least-once service: one ack per
 * tracked delivery (docs/protocol.md A.8). An ack in its compact form, exactly
 * `<prefix><id>"}` (envelope: `{"type":"ack","data":{"message_id":"<id>"}}`, flat:
 * `{"type":"ack","message_id":"<id>"}`), is read straight from the bytes: no UTF-8 decoding, no
 * shape pass, no JSON.parse. The id must be printable ASCII without `"` or `\`, so it reads the
 * same as JSON.parse would; any other frame, spaces or key order included, returns null and
 * takes the general path, which decodes it to the same ack. Browser-safe.
 */
export class CompactAck {
  readonly #prefix: Uint8Array
  readonly #suffix: Uint8Array
  readonly #keys: number
  readonly #depth: number

  /** `prefix` up to the id's opening quote, `suffix` after its closing quote, and the keys and depth the form has. */
  constructor(prefix: string, suffix: string, shape: { keys: number; depth: number }) {
    this.#prefix = ascii(prefix)
    this.#suffix = ascii(suffix)
    this.#keys = shape.keys
    this.#depth = shape.depth
  }

  /** The acked id of a compact ack frame, or null when the frame is anything else. */
  read(raw: RawFrame, limits: JsonShapeLimits | undefined): string | null {
    if (typeof raw === 'string') return null
    const pre = this.#prefix
    const suf = this.#suffix
    const end = raw.length - suf.length
    if (end <= pre.length) return null
    // Limits so low that even this frame is over them: let the general path say so.
    if (limits !== undefined && (limits.maxKeys < this.#keys || limits.maxDepth < this.#depth)) return null
    for (let i = 0; i < pre.length; i++) if (raw[i] !== pre[i]) return null
    for (let i = 0; i < suf.length; i++) if (raw[end + i] !== suf[i]) return null
    let id = ''
    for (let i = pre.length; i < end; i++) {
      const c = raw[i] as number
      // Printable ASCII, no quote, no backslash: JSON would read these bytes as these characters.
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return null
      id += String.fromCharCode(c)
    }
    return id
  }
}

function ascii(text: string): Uint8Array {
  const out = new Uint8Array(text.length)
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i)
  return out
}
