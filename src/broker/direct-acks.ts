import type { DirectOutcome } from './broker.js'

interface Waiting {
  readonly resolve: (outcome: DirectOutcome) => void
  readonly timer: NodeJS.Timeout
  readonly peers: number
  misses: number
}

/**
 * Direct messages forwarded to other instances, waiting for their answers: the first `found`
 * settles `remote`; a `not found` from every peer, or silence for `timeoutMs`, settles `unknown`.
 */
export class DirectAcks {
  readonly #waiting = new Map<string, Waiting>()
  readonly #timeoutMs: number

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs
  }

  /** Waits for the answers to message `id`, sent to `peers` other instances. */
  expect(id: string, peers: number): Promise<DirectOutcome> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#settle(id, 'unknown'), this.#timeoutMs)
      timer.unref()
      this.#waiting.set(id, { resolve, timer, peers, misses: 0 })
    })
  }

  /** One instance's answer to message `id`. */
  answer(id: string, found: boolean): void {
    const w = this.#waiting.get(id)
    if (w === undefined) return
    if (found) return this.#settle(id, 'remote')
    if (++w.misses >= w.peers) this.#settle(id, 'unknown')
  }

  /** Settles everything still waiting as `unknown` (the broker is closing). */
  clear(): void {
    for (const id of [...this.#waiting.keys()]) this.#settle(id, 'unknown')
  }

  #settle(id: string, outcome: DirectOutcome): void {
    const w = this.#waiting.get(id)
    if (w === undefined) return
    this.#waiting.delete(id)
    clearTimeout(w.timer)
    w.resolve(outcome)
  }
}
