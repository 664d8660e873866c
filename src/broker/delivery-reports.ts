import { WaitingAnswers } from './waiting-answers.js'

interface Tally {
  expected: number | null
  got: number
  total: number
}

/**
 * Publications whose publisher wants to know how many subscribers they reached on the other
 * instances (POST /publish, the MCP publish tools): each instance that received one answers
 * with its local count. Opened before the publication is sent (an answer may beat the count of
 * instances the transport reports); settles when every instance the transport handed it to has
 * answered, or after `timeoutMs` with what came.
 */
export class DeliveryReports {
  readonly #answers: WaitingAnswers<Tally, number>

  constructor(timeoutMs: number) {
    this.#answers = new WaitingAnswers(timeoutMs, (t) => t.total)
  }

  /** Starts collecting the answers for `id`; the promise resolves with their sum. */
  open(id: string): Promise<number> {
    return this.#answers.open(id, { expected: null, got: 0, total: 0 })
  }

  /** How many instances will answer (0 settles at once). */
  expect(id: string, instances: number): void {
    const t = this.#answers.tally(id)
    if (t === undefined) return
    t.expected = instances
    if (t.got >= instances) this.#answers.settle(id, t.total)
  }

  /** One instance's answer. */
  report(id: string, delivered: number): void {
    const t = this.#answers.tally(id)
    if (t === undefined) return
    t.got++
    t.total += delivered
    if (t.expected !== null && t.got >= t.expected) this.#answers.settle(id, t.total)
  }

  clear(): void {
    this.#answers.clear()
  }
}
