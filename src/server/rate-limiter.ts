/**
 * A token bucket: `rate` tokens per second, holding at most `burst` (1.5 × rate, at least 1), starting full.
 * Time is passed in so the hot path reads the clock once per frame.
 */
export class TokenBucket {
  #tokens: number
  #last: number
  readonly rate: number
  readonly burst: number

  constructor(rate: number, now: number, burstFactor = 1.5) {
    this.rate = rate
    // At least one whole token: a rate under 1/burstFactor per second must still let a frame through.
    this.burst = Math.max(1, rate * burstFactor)
    this.#tokens = this.burst
    this.#last = now
  }

  /** Takes one token; returns 0 when allowed, else the seconds until one is available. */
  take(now: number): number {
    // Date.now() can step back (clock adjustment): never let that take tokens away.
    const elapsed = Math.max(0, now - this.#last) / 1000
    this.#last = now
    this.#tokens = Math.min(this.burst, this.#tokens + elapsed * this.rate)
    if (this.#tokens >= 1) {
      this.#tokens -= 1
      return 0
    }
    return (1 - this.#tokens) / this.rate
  }
}
