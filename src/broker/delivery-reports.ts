interface Waiting {
  readonly timer: NodeJS.Timeout
  readonly resolve: (total: number) => void
  expected: number | null
  got: number
  total: number
}

/**
 * Publications whose publisher wants to know how many subscribers they reached on the other
 * instances (POST /publish, the MCP publish tools): each instance that received one answers
 * with its local count. Opened before the publication is sent (an answer may beat the count of
 * instances Redis reports); settles when every instance Redis handed it to has answered, or
 * after `timeoutMs` with what came.
 */
export class DeliveryReports {
  readonly #waiting = new Map<string, Waiting>()
  readonly #timeoutMs: number

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs
  }

  /** Starts collecting the answers for `id`; the promise resolves with their sum. */
  open(id: string): Promise<number> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#settle(id), this.#timeoutMs)
      timer.unref()
      this.#waiting.set(id, { timer, resolve, expected: null, got: 0, total: 0 })
    })
  }

  /** How many instances will answer (0 settles at once). */
  expect(id: string, instances: number): void {
    const w = this.#waiting.get(id)
    if (w === undefined) return
    w.expected = instances
    if (w.got >= instances) this.#settle(id)
  }

  /** One instance's answer. */
  report(id: string, delivered: number): void {
    const w = this.#waiting.get(id)
    if (w === undefined) return
    w.got++
    w.total += delivered
    if (w.expected !== null && w.got >= w.expected) this.#settle(id)
  }

  clear(): void {
    for (const id of [...this.#waiting.keys()]) this.#settle(id)
  }

  #settle(id: string): void {
    const w = this.#waiting.get(id)
    if (w === undefined) return
    this.#waiting.delete(id)
    clearTimeout(w.timer)
    w.resolve(w.total)
  }
}
