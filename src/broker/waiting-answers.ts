/**
 * Requests sent to other instances, waiting for their answers by id: each holds some tally of
 * the answers so far and settles once with a result, on an answer that decides it, or after
 * `timeoutMs` (or at `clear`) with what `fallback` makes of the tally. Timers do not keep the
 * process alive.
 */
export class WaitingAnswers<T, R> {
  readonly #waiting = new Map<string, { readonly tally: T; readonly resolve: (result: R) => void; readonly timer: NodeJS.Timeout }>()
  readonly #timeoutMs: number
  readonly #fallback: (tally: T) => R

  constructor(timeoutMs: number, fallback: (tally: T) => R) {
    this.#timeoutMs = timeoutMs
    this.#fallback = fallback
  }

  /** Starts waiting for the answers to `id`, tallied in `tally`. */
  open(id: string, tally: T): Promise<R> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.expire(id), this.#timeoutMs)
      timer.unref()
      this.#waiting.set(id, { tally, resolve, timer })
    })
  }

  /** The tally of `id` while it waits, else undefined (settled, timed out, or never opened). */
  tally(id: string): T | undefined {
    return this.#waiting.get(id)?.tally
  }

  /** Settles `id` with `result`. */
  settle(id: string, result: R): void {
    const w = this.#waiting.get(id)
    if (w === undefined) return
    this.#waiting.delete(id)
    clearTimeout(w.timer)
    w.resolve(result)
  }

  /** Settles `id` with what the fallback makes of its tally. */
  expire(id: string): void {
    const tally = this.tally(id)
    if (tally !== undefined) this.settle(id, this.#fallback(tally))
  }

  /** Settles everything still waiting with its fallback (the broker is closing). */
  clear(): void {
    for (const id of [...this.#waiting.keys()]) this.expire(id)
  }
}
