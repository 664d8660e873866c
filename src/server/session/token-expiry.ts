/** setTimeout's largest delay (about 24.8 days); a longer one fires at once, so longer waits are taken in steps. */
const MAX_DELAY_MS = 2 ** 31 - 1

/** What the expiry of one connection's token does when its time comes. */
export interface ExpiryHooks {
  /** The warning time has come: the token expires at `expiresAt` (ms since the epoch). */
  warn(expiresAt: number): void
  /** The token has expired unrefreshed. */
  expired(): void
}

/**
 * The expiry of the token one connection authenticated with (docs/auth.md "Refresh"): one timer,
 * first for the warning — `min(warningSeconds, half the lifetime left when armed)` before the
 * expiry — then for the expiry itself. Arming again (a refresh) replaces both.
 */
export class TokenExpiry {
  readonly #hooks: ExpiryHooks
  readonly #warningMs: number
  #timer: NodeJS.Timeout | null = null
  #expiresAt = 0
  #warnAt = 0

  constructor(hooks: ExpiryHooks, warningSeconds: number) {
    this.#hooks = hooks
    this.#warningMs = warningSeconds * 1000
  }

  /** Starts (or moves) the timer to a token expiring at `expiresAt` (ms since the epoch). */
  arm(expiresAt: number, now = Date.now()): void {
    this.clear()
    this.#expiresAt = expiresAt
    this.#warnAt = expiresAt - Math.min(this.#warningMs, Math.max(0, expiresAt - now) / 2)
    this.#schedule(now)
  }

  /** Stops the timer (the connection closed, or its identity has no expiry any more). */
  clear(): void {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
  }

  #schedule(now: number): void {
    const at = this.#warnAt > 0 ? this.#warnAt : this.#expiresAt
    this.#timer = setTimeout(() => this.#fire(), Math.min(MAX_DELAY_MS, Math.max(0, at - now)))
  }

  #fire(): void {
    this.#timer = null
    const now = Date.now()
    const at = this.#warnAt > 0 ? this.#warnAt : this.#expiresAt
    // A step of a wait longer than setTimeout can take in one.
    if (now < at) return this.#schedule(now)
    if (this.#warnAt > 0) {
      this.#warnAt = 0
      this.#hooks.warn(this.#expiresAt)
      return this.#schedule(now)
    }
    this.#hooks.expired()
  }
}
