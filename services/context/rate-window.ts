/** Counts over the last 60 seconds in one-second buckets: fixed memory, whatever the rate. */
export class RateWindow {
  readonly #stamps = new Float64Array(60)
  readonly #totals = new Uint32Array(60)
  readonly #byKey: Map<string, number>[] = Array.from({ length: 60 }, () => new Map())
  readonly #keys: ReadonlySet<string>
  readonly #now: () => number

  /** `keys`: the only keys counted per key (e.g. event families); others count in the total only. */
  constructor(keys: readonly string[], now: () => number = Date.now) {
    this.#keys = new Set(keys)
    this.#now = now
  }

  add(key: string): void {
    const second = Math.floor(this.#now() / 1000)
    const i = second % 60
    if (this.#stamps[i] !== second) {
      this.#stamps[i] = second
      this.#totals[i] = 0
      this.#byKey[i]!.clear()
    }
    this.#totals[i]!++
    if (this.#keys.has(key)) this.#byKey[i]!.set(key, (this.#byKey[i]!.get(key) ?? 0) + 1)
  }

  /** Total and per-key counts of the last 60 s (every known key present, zero when quiet). */
  lastMinute(): { total: number; byKey: Record<string, number> } {
    const second = Math.floor(this.#now() / 1000)
    const byKey: Record<string, number> = Object.fromEntries([...this.#keys].map((k) => [k, 0]))
    let total = 0
    for (let i = 0; i < 60; i++) {
      if (second - (this.#stamps[i] ?? 0) >= 60) continue
      total += this.#totals[i] ?? 0
      for (const [k, n] of this.#byKey[i]!) byKey[k] = (byKey[k] ?? 0) + n
    }
    return { total, byKey }
  }
}
