/** Time and timers for the delivery tracker; tests pass a manual clock instead of waiting. */
export interface Clock {
  /** Monotonic milliseconds. */
  now(): number
  /** Runs `fn` after `ms`; returns a cancel function. Must not keep the process alive. */
  schedule(fn: () => void, ms: number): () => void
}

/** The process clock: performance.now() and unref'd timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  schedule(fn, ms) {
    const timer = setTimeout(fn, Math.max(0, ms))
    timer.unref()
    return () => clearTimeout(timer)
  },
}
