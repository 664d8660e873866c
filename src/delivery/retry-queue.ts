import type { Clock } from './clock.js'

/**
 * Items due at a time, run in order by ONE timer. Every item is scheduled `ack_timeout` after
 * its send, so due times only grow: a FIFO is enough (O(1) per schedule, no heap), and the
 * timer is armed for the head only. Acknowledged items are not removed (that would be O(n));
 * the owner recognises them as stale when they come due and skips them, and `compact` drops
 * them when they outnumber the live ones.
 */
export class RetryQueue<T> {
  readonly #clock: Clock
  readonly #onDue: (item: T, due: number) => void
  #items: T[] = []
  #dues: number[] = []
  #head = 0
  #cancel: (() => void) | null = null
  #armedFor = Infinity

  /** `onDue(item, due)` runs for each item whose time has come, with the due time it was scheduled for. */
  constructor(clock: Clock, onDue: (item: T, due: number) => void) {
    this.#clock = clock
    this.#onDue = onDue
  }

  /** Queued items, stale ones included. */
  get size(): number {
    return this.#items.length - this.#head
  }

  /** Schedules `item` at `due` (never earlier than the last scheduled item: it is clamped to keep the order). */
  push(item: T, due: number): number {
    const last = this.#dues.length > this.#head ? (this.#dues[this.#dues.length - 1] as number) : -Infinity
    const at = Math.max(due, last)
    this.#items.push(item)
    this.#dues.push(at)
    // Armed for the head, which is never later than this item (it may be earlier while #fire runs).
    if (this.#cancel === null) this.#arm(this.#dues[this.#head] as number)
    return at
  }

  /** Keeps only the items `live(item, due)` says are still wanted. */
  compact(live: (item: T, due: number) => boolean): void {
    const items: T[] = []
    const dues: number[] = []
    for (let i = this.#head; i < this.#items.length; i++) {
      const item = this.#items[i] as T
      const due = this.#dues[i] as number
      if (live(item, due)) {
        items.push(item)
        dues.push(due)
      }
    }
    this.#items = items
    this.#dues = dues
    this.#head = 0
    if (items.length === 0) this.#disarm()
  }

  /** Drops everything and stops the timer. */
  clear(): void {
    this.#items = []
    this.#dues = []
    this.#head = 0
    this.#disarm()
  }

  #arm(at: number): void {
    this.#armedFor = at
    this.#cancel = this.#clock.schedule(() => this.#fire(), at - this.#clock.now())
  }

  #disarm(): void {
    this.#cancel?.()
    this.#cancel = null
    this.#armedFor = Infinity
  }

  #fire(): void {
    this.#cancel = null
    this.#armedFor = Infinity
    const now = this.#clock.now()
    // Items pushed by onDue (a retry) are due later than now, so this loop ends.
    while (this.#head < this.#items.length && (this.#dues[this.#head] as number) <= now) {
      const item = this.#items[this.#head] as T
      const due = this.#dues[this.#head] as number
      // Release the slot at once: a popped item must not be kept alive by the array.
      this.#items[this.#head] = undefined as T
      this.#head++
      this.#onDue(item, due)
    }
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#dues = this.#dues.slice(this.#head)
      this.#head = 0
    }
    if (this.#head < this.#items.length && this.#cancel === null) this.#arm(this.#dues[this.#head] as number)
  }

  /** When the timer fires next (for tests); Infinity when it is not armed. */
  get armedFor(): number {
    return this.#armedFor
  }
}
