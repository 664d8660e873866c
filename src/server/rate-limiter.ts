/**
 * A token bucket: `rate` tokens per second, holding at most `burst` (1.5 × rate, at least
 * `minBurst`), starting full. Frames cost one token each; bytes cost one token per byte.
 * Time is passed in so the hot path reads the clock once per frame.
 */
export class TokenBucket {
  #tokens: number
  #last: number
  readonly rate: number
  readonly burst: number

  constructor(rate: number, now: number, burstFactor = 1.5, minBurst = 1) {
    this.rate = rate
    // At least one whole token (or one largest frame's bytes): a low rate must still let the largest unit through.
    this.burst = Math.max(minBurst, rate * burstFactor)
    this.#tokens = this.burst
    this.#last = now
  }

  /** Takes `cost` tokens; returns 0 when allowed, else the seconds until they are available (nothing is taken). */
  take(now: number, cost = 1): number {
    // Date.now() can step back (clock adjustment): never let that take tokens away.
    const elapsed = Math.max(0, now - this.#last) / 1000
    this.#last = now
    this.#tokens = Math.min(this.burst, this.#tokens + elapsed * this.rate)
    if (this.#tokens >= cost) {
      this.#tokens -= cost
      return 0
    }
    return (cost - this.#tokens) / this.rate
  }
}
