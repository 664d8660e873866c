import { compileObserverPattern } from '../protocol/channels.js'
import { AppError, ErrorCode } from '../protocol/codes.js'

/** What an observer is to the registry: a connection with an id (the registry holds it, nothing more). */
export interface ObserverMember {
  readonly id: string
}

/**
 * The observers of this instance (docs/protocol.md A.9): operator connections that watch every
 * publication whose channel matches one of their patterns. An observer is not a room member: it
 * is never tracked (owes no ack), never counted as a subscriber, and is answered its own frames
 * by LocalDelivery under the ordinary slow-consumer bound.
 */
export class Observers<M extends ObserverMember> {
  /** Observer → its patterns, each with its matcher. */
  readonly #byConn = new Map<M, Map<string, (channel: string) => boolean>>()
  readonly #maxPatterns: number
  readonly #changed: (observing: boolean) => void

  /**
   * `maxPatterns`: patterns per connection (settings.max_subscriptions). `changed` is told when
   * the instance gets its first observer (true) and loses its last one (false): the broker then
   * hears every room of the cluster, or only those with local members again.
   */
  constructor(maxPatterns: number, changed: (observing: boolean) => void = () => {}) {
    this.#maxPatterns = maxPatterns
    this.#changed = changed
  }

  /** How many connections observe. */
  get size(): number {
    return this.#byConn.size
  }

  /** Adds a pattern; idempotent. Throws INVALID_PARAMS for a malformed pattern, TOO_MANY_SUBSCRIPTIONS past the bound. */
  add(conn: M, pattern: unknown): string {
    let matcher: (channel: string) => boolean
    try {
      matcher = compileObserverPattern(pattern)
    } catch (err) {
      throw new AppError(ErrorCode.INVALID_PARAMS, (err as Error).message)
    }
    const name = pattern as string
    let patterns = this.#byConn.get(conn)
    if (patterns?.has(name) === true) return name
    if ((patterns?.size ?? 0) >= this.#maxPatterns) {
      throw new AppError(ErrorCode.TOO_MANY_SUBSCRIPTIONS, `Observer pattern limit reached (${this.#maxPatterns} patterns per connection)`)
    }
    const first = this.#byConn.size === 0
    if (patterns === undefined) this.#byConn.set(conn, (patterns = new Map()))
    patterns.set(name, matcher)
    if (first) this.#changed(true)
    return name
  }

  /** Drops a pattern; idempotent. */
  remove(conn: M, pattern: string): void {
    const patterns = this.#byConn.get(conn)
    if (patterns === undefined) return
    patterns.delete(pattern)
    if (patterns.size === 0) this.forget(conn)
  }

  /** Whether the connection observes: it is then tracked for nothing, not even its own rooms' events. */
  observes(conn: M): boolean {
    return this.#byConn.has(conn)
  }

  /** Drops every pattern of a connection (it closed). */
  forget(conn: M): void {
    if (this.#byConn.delete(conn) && this.#byConn.size === 0) this.#changed(false)
  }

  /** The patterns a connection observes. */
  patternsOf(conn: M): string[] {
    return [...(this.#byConn.get(conn)?.keys() ?? [])]
  }

  /** The observers of `channel`, each once. */
  *matching(channel: string): Generator<M> {
    for (const [conn, patterns] of this.#byConn) {
      for (const matches of patterns.values()) {
        if (matches(channel)) {
          yield conn
          break
        }
      }
    }
  }
}
