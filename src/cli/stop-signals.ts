import type { Logger } from 'pino'

/** How often a server started by npm checks that npm is still its parent. */
const PARENT_POLL_MS = 500

/**
 * When `roomcast serve` should stop. Installed before anything listens, so a SIGTERM or SIGINT
 * that arrives while services are still starting is graceful too; a second signal exits at once
 * with 1. Under npm (`npx roomcast …`, `npm start`) it also stops when npm goes away: `kill <npm's
 * PID>` ends npm and its shell but not us, and an orphan would keep the port.
 */
export class StopSignals {
  /** Resolves with the reason of the first stop request. */
  readonly requested: Promise<string>
  #reason: string | null = null
  #resolve: (reason: string) => void = () => {}
  readonly #log: Logger
  readonly #onSignal = (signal: NodeJS.Signals) => this.#request(signal)
  #parentTimer: NodeJS.Timeout | null = null

  constructor(log: Logger, opts: { watchParent: boolean }) {
    this.#log = log
    this.requested = new Promise((resolve) => (this.#resolve = resolve))
    process.on('SIGTERM', this.#onSignal)
    process.on('SIGINT', this.#onSignal)
    if (opts.watchParent) {
      const parent = process.ppid
      this.#parentTimer = setInterval(() => {
        if (process.ppid !== parent) this.#request('parent process (npm) exited')
      }, PARENT_POLL_MS)
      this.#parentTimer.unref()
    }
  }

  /** Whether a stop was requested. */
  get stopping(): boolean {
    return this.#reason !== null
  }

  /** Asks for a stop from within (a worker told by its primary, or orphaned); a later signal then exits at once. */
  request(reason: string): void {
    this.#request(reason)
  }

  #request(reason: string): void {
    if (this.#reason !== null) {
      if (reason.startsWith('SIG')) {
        this.#log.warn({ signal: reason }, 'second signal: exiting at once')
        process.exit(1)
      }
      return
    }
    this.#reason = reason
    if (this.#parentTimer !== null) clearInterval(this.#parentTimer)
    this.#log.info(reason.startsWith('SIG') ? { signal: reason } : { reason }, 'shutting down')
    this.#resolve(reason)
  }
}

/** Whether npm started this process (`npx`, `npm exec`, `npm start`): then npm's PID is what users kill. */
export function startedByNpm(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.npm_lifecycle_event !== undefined && env.npm_lifecycle_event !== ''
}
