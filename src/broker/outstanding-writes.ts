/** How long a graceful stop waits at most for a store's unanswered writes (pending-store.ts `close`). */
export const CLOSE_WAIT_MS = 1000

/**
 * The fire-and-forget writes of a pending store that have not been answered yet, so that a
 * graceful stop can wait for them before the connection goes (pending-store.ts `close`). A write
 * the client still holds when its connection quits is dropped, not sent: ioredis auto-pipelines
 * a command on the next turn, and behind a reply still outstanding on its node; once `quit()`
 * has begun, a Redis Cluster refuses what it had not sent yet ("Cluster isn't ready"), and a
 * single Redis writes it after its QUIT.
 */
export class OutstandingWrites {
  #count = 0
  #idle: (() => void) | null = null

  /** Counts `write` until it settles; `failed` sees its error. */
  add(write: Promise<unknown>, failed: (err: unknown) => void): void {
    this.#count++
    write.then(
      () => this.#done(),
      (err: unknown) => {
        failed(err)
        this.#done()
      },
    )
  }

  /** Resolves once every write added so far (and since) has settled, or after `timeoutMs`: never hangs a stop while the other side does not answer. */
  settled(timeoutMs: number): Promise<void> {
    if (this.#count === 0) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs)
      timer.unref()
      const before = this.#idle
      this.#idle = () => {
        before?.()
        clearTimeout(timer)
        resolve()
      }
    })
  }

  #done(): void {
    if (--this.#count > 0 || this.#idle === null) return
    const idle = this.#idle
    this.#idle = null
    idle()
  }
}

/**
 * Resolves once `work` has settled (either way), or after `timeoutMs`: a stop's step that talks to
 * Redis (a last publish, QUIT, a store's last MULTI) never hangs the stop while Redis does not
 * answer (stopped, or a host gone without a RST). The caller then disconnects, which fails `work`.
 */
export function settledWithin(work: Promise<unknown>, timeoutMs: number): Promise<void> {
  const writes = new OutstandingWrites()
  writes.add(work, () => {})
  return writes.settled(timeoutMs)
}
