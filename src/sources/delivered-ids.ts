/**
 * Which outbox rows this instance has delivered, so a notification naming one again (any role
 * may NOTIFY any id) delivers nothing. Bounded: the newest `capacity` ids are remembered, and
 * every id at or below the floor counts as delivered — the floor starts at the newest row that
 * existed when the source began listening and rises as remembered ids are forgotten.
 */
export class DeliveredIds {
  readonly #capacity: number
  readonly #ids = new Set<bigint>()
  #floor = 0n
  #highest = 0n

  constructor(capacity: number) {
    this.#capacity = capacity
  }

  /** The newest row this source has seen: the floor or the newest id delivered. */
  get highest(): bigint {
    return this.#highest
  }

  /** Rows up to `id` existed before this listening connection: never delivered through it. */
  startAfter(id: bigint): void {
    if (id > this.#floor) this.#floor = id
    if (id > this.#highest) this.#highest = id
    for (const seen of this.#ids) if (seen <= this.#floor) this.#ids.delete(seen)
  }

  /** Whether the row `id` may be delivered now; true once per id, and it is then remembered. */
  admit(id: bigint): boolean {
    if (id <= this.#floor || this.#ids.has(id)) return false
    this.#ids.add(id)
    if (id > this.#highest) this.#highest = id
    if (this.#ids.size > this.#capacity) {
      // Sets iterate in insertion order: the first is the one delivered longest ago.
      const oldest = this.#ids.values().next().value as bigint
      this.#ids.delete(oldest)
      if (oldest > this.#floor) this.#floor = oldest
    }
    return true
  }
}
