import type { JsonObject, Publication } from '../../src/index.js'
import { BoundedMap } from '../../src/util/bounded-map.js'

/** One lookup request of a declared service: the latest event per key, bounded, least recently updated evicted first. */
export class LatestByKey {
  readonly #key: string
  readonly #events: ReadonlySet<string> | null
  readonly #latest: BoundedMap<string, JsonObject>

  /** `events` empty: every event whose data carries the key. */
  constructor(key: string, events: readonly string[], capacity = 10_000) {
    this.#key = key
    this.#events = events.length > 0 ? new Set(events) : null
    this.#latest = new BoundedMap(capacity)
  }

  apply(pub: Publication): void {
    if (this.#events !== null && !this.#events.has(pub.event)) return
    const id = pub.data[this.#key]
    if (typeof id !== 'string' && typeof id !== 'number') return
    this.#latest.set(String(id), { [this.#key]: String(id), event: pub.event, channel: pub.channel, timestamp: pub.timestamp, data: pub.data })
  }

  /** The answer for one key, or undefined when no event carried it. */
  answer(id: string): JsonObject | undefined {
    return this.#latest.get(id)
  }
}
