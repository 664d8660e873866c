/** How reconnects are spaced: exponential, capped, with jitter so a fleet does not return at once. */
export interface BackoffOptions {
  /** First delay in ms. @default 250 */
  readonly initial?: number
  /** Largest delay in ms. @default 15000 */
  readonly max?: number
  /** Growth per failed attempt. @default 2 */
  readonly factor?: number
}

/**
 * The delay before reconnect attempt `attempt` (0-based): "equal jitter" — half of the capped
 * exponential delay is fixed, the other half random, so no two clients that dropped together
 * come back together, and no client ever retries sooner than half the nominal delay.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions = {}, random: () => number = Math.random): number {
  const initial = opts.initial ?? 250
  const max = opts.max ?? 15_000
  const factor = opts.factor ?? 2
  const nominal = Math.min(max, initial * factor ** Math.min(attempt, 32))
  return nominal / 2 + random() * (nominal / 2)
}
