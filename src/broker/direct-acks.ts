import type { DirectOutcome } from './broker.js'
import { WaitingAnswers } from './waiting-answers.js'

interface Tally {
  readonly peers: number
  misses: number
}

/**
 * Direct messages forwarded to other instances, waiting for their answers: the first `found`
 * settles `remote`; a `not found` from every peer, or silence for `timeoutMs`, settles `unknown`.
 */
export class DirectAcks {
  readonly #answers: WaitingAnswers<Tally, DirectOutcome>

  constructor(timeoutMs: number) {
    this.#answers = new WaitingAnswers<Tally, DirectOutcome>(timeoutMs, () => 'unknown')
  }

  /** Waits for the answers to message `id`, sent to `peers` other instances. */
  expect(id: string, peers: number): Promise<DirectOutcome> {
    return this.#answers.open(id, { peers, misses: 0 })
  }

  /** One instance's answer to message `id`. */
  answer(id: string, found: boolean): void {
    const t = this.#answers.tally(id)
    if (t === undefined) return
    if (found) return this.#answers.settle(id, 'remote')
    if (++t.misses >= t.peers) this.#answers.settle(id, 'unknown')
  }

  /** Settles everything still waiting as `unknown` (the broker is closing). */
  clear(): void {
    this.#answers.clear()
  }
}
