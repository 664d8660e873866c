/** The last `limit` event ids seen, to drop re-sent duplicates of tracked events. Bounded. */
export class RecentIds {
  readonly #set = new Set<string>()
  readonly #limit: number

  constructor(limit: number) {
    this.#limit = Math.max(1, limit)
  }

  /** Remembers `id`; false when it was already there (a duplicate). */
  add(id: string): boolean {
    if (this.#set.has(id)) return false
    this.#set.add(id)
    // A Set iterates in insertion order: the first key is the oldest.
    if (this.#set.size > this.#limit) this.#set.delete(this.#set.values().next().value as string)
    return true
  }
}
