/**
 * What a server running as one worker of `roomcast serve <service>` with `workers: N > 1` sees of
 * the others (src/cli/worker-role.ts implements it over the primary's IPC channel). A server
 * without one (`workers: 1`, tests, a library user) is the whole service by itself.
 */

/** One worker as node:cluster names it. */
export interface WorkerIdentity {
  /** node:cluster's worker id: 1, 2, … (a restarted worker gets the next one). */
  readonly id: number
  readonly pid: number
}

/** One worker's answer to what the primary asked every worker, or why it has none. */
export interface WorkerAnswer extends WorkerIdentity {
  readonly value?: unknown
  readonly error?: string
}

/** What the primary gathered from every worker listening now, with its own pid and uptime (seconds). */
export interface Gathered {
  readonly pid: number
  readonly uptime: number
  readonly workers: readonly WorkerAnswer[]
}

/**
 * Keys with an expiry, held by the primary for every worker of the service: what instances
 * share over Redis (the context service's kept subscriptions, its metrics lock and figures),
 * when the workers have no Redis.
 */
export interface SharedState {
  /** Sets `key` to `value` (JSON) for `ttlMs`. */
  put(key: string, value: unknown, ttlMs: number): Promise<void>
  /** The value of `key`, or null when absent or expired. */
  get(key: string): Promise<unknown>
  del(key: string): Promise<void>
  /** The live values of every key starting with `prefix`. */
  values(prefix: string): Promise<unknown[]>
  /** Takes or renews the lock `key` for `owner`; false while someone else holds it. */
  hold(key: string, owner: string, ttlMs: number): Promise<boolean>
  /** Lets go of the lock `key` when `owner` holds it. */
  release(key: string, owner: string): Promise<void>
}

export interface WorkerGroup {
  /** This worker. */
  readonly self: WorkerIdentity
  /** Asks the primary to ask every other worker listening now `name` (this one is listed, without a value). */
  gather(name: string): Promise<Gathered>
  /** Answers the primary's `name` asks (one handler per name; the last registered wins). */
  answer(name: string, handler: () => unknown): void
  readonly state: SharedState
}
