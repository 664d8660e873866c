import type { Logger } from 'pino'

/** Failure lines per second logged one by one; the rest are summed in one line (the counters stay exact). */
const FAILURES_PER_SECOND = 10
/** Overflow is logged the first time, then every this many times. */
const OVERFLOW_EVERY = 1000

/** The tracker's log lines, throttled: a mass of failing recipients must not flood the log. */
export class DeliveryLog {
  readonly #log: Logger | undefined
  #window = 0
  #logged = 0
  #suppressed = 0

  constructor(log: Logger | undefined) {
    this.#log = log
  }

  /** One tracked event counted as failed; `second` is the clock's current second. */
  failed(second: number, fields: { event: string; id: string; recipient: string; attempts: number; reason: string }): void {
    if (second !== this.#window) {
      if (this.#suppressed > 0) this.#log?.warn({ failures: this.#suppressed }, 'more tracked deliveries failed (not logged one by one)')
      this.#window = second
      this.#logged = 0
      this.#suppressed = 0
    }
    if (this.#logged++ < FAILURES_PER_SECOND) this.#log?.warn(fields, 'tracked delivery failed')
    else this.#suppressed++
  }

  /** An event sent untracked because a bound was reached; `count` is the overflow total so far. */
  overflow(count: number, fields: { event: string; id: string; recipient: string; pending: number; pendingBytes: number }): void {
    if (count === 1 || count % OVERFLOW_EVERY === 0) {
      this.#log?.warn({ ...fields, overflow: count }, 'delivery bound reached: event sent once without tracking')
    }
  }
}
