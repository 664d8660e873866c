/**
 * A token bucket: `rate` tokens per second, holding at most `burst` (1.5 × rate, at least one
 * token), starting full. Frames cost one token each; bytes cost one token per byte. A cost larger
 * than the whole bucket passes only when the bucket is full and leaves it in debt, so the largest
 * frame can always get through without letting every client start with a burst that large.
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

  /** Takes `cost` tokens; returns 0 when allowed, else the seconds until it would be (nothing is taken). */
  take(now: number, cost = 1): number {
    // Date.now() can step back (clock adjustment): never let that take tokens away.
    const elapsed = Math.max(0, now - this.#last) / 1000
    this.#last = now
    this.#tokens = Math.min(this.burst, this.#tokens + elapsed * this.rate)
    const needed = Math.min(cost, this.burst)
    if (this.#tokens >= needed) {
      this.#tokens -= cost
      return 0
    }
    return (needed - this.#tokens) / this.rate
  }

  /** Seconds until the bucket, in the debt the last `take` left, holds `margin` tokens again (0 when it left no debt). */
  debt(margin: number): number {
    return this.#tokens < 0 ? (Math.min(margin, this.burst) - this.#tokens) / this.rate : 0
  }
}
