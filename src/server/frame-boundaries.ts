/**
 * Where WebSocket frames end in the raw bytes a client sends (RFC 6455 5.2), read from the
 * headers alone: lets the server see, before `ws` takes a chunk, that the chunk completes a large
 * frame — the moment `ws` unmasks and hands on the whole frame at once.
 */
export class FrameBoundaries {
  /** Payload bytes of the current frame still to come (after its header). */
  #remaining = 0
  /**
   * Bytes of a header split across chunks, kept until it is whole; allocated with the first
   * frame, so a connection that never sends one (most of a reconnect storm) costs no buffer.
   */
  #header: Buffer | null = null
  #headerBytes = 0
  #payload = 0

  /** Feeds the next chunk; returns the payload size of the largest frame it completes (-1: none). */
  feed(chunk: Buffer): number {
    let largest = -1
    let at = 0
    const header = (this.#header ??= Buffer.alloc(14))
    while (at < chunk.length) {
      if (this.#remaining > 0) {
        const take = Math.min(this.#remaining, chunk.length - at)
        this.#remaining -= take
        at += take
        if (this.#remaining === 0) largest = Math.max(largest, this.#payload)
        continue
      }
      header[this.#headerBytes++] = chunk[at++] as number
      const need = headerLength(header, this.#headerBytes)
      if (need === null || this.#headerBytes < need) continue
      this.#payload = payloadLength(header)
      this.#headerBytes = 0
      this.#remaining = this.#payload
      if (this.#payload === 0) largest = Math.max(largest, 0)
    }
    return largest
  }
}

/** The whole header's length once its first two bytes are known, else null. */
function headerLength(h: Buffer, have: number): number | null {
  if (have < 2) return null
  const len7 = (h[1] as number) & 0x7f
  const mask = ((h[1] as number) & 0x80) !== 0 ? 4 : 0
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + mask
}

function payloadLength(h: Buffer): number {
  const len7 = (h[1] as number) & 0x7f
  if (len7 === 126) return h.readUInt16BE(2)
  // ws refuses anything over max_payload; a length beyond 2^53 cannot be a frame it accepts.
  if (len7 === 127) return h.readUInt32BE(2) * 2 ** 32 + h.readUInt32BE(6)
  return len7
}
