import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { Connection } from '../../src/index.js'
import type { RestoreStore } from './restore-store.js'

/** What restoring needs from the server: join a channel as the server would (permission-checked). */
export interface RestoreTarget {
  autoJoin(conn: Connection, channel: string): void
}

/** A connection's save in flight: the save queued behind it (its promise, and what starts it once the one in flight settled). */
interface Saving {
  next: Promise<void> | null
  start: (() => void) | null
}

/**
 * An agent's subscriptions follow it to its next connection, on any instance (docs/protocol.md
 * B): saved on each change and refreshed when the connection closes, so a crashed instance
 * loses nothing but the last change; restored once the connection has an identity. Emits
 * `restored` (connection, channels) after each lookup, found or not.
 */
export class SubscriptionRestore extends EventEmitter {
  readonly #store: RestoreStore
  readonly #target: RestoreTarget
  readonly #log: Logger
  /** The identified connections and the channels each holds (a closed connection's set is gone by onDisconnect). */
  readonly #held = new Map<Connection, Set<string>>()
  /** Connections being restored: their joins are saved once at the end, not one write per channel. */
  readonly #restoring = new Set<Connection>()
  /**
   * Connections with a save in flight, and the save queued behind it: every change meanwhile
   * rides on that one, which writes the channels held when it starts. So a connection has at most
   * one write in the store's queue (a client toggling a channel while Redis hangs costs one, not
   * one per request) and its writes reach the store in the order of its changes.
   */
  readonly #saving = new Map<Connection, Saving>()
  restored = 0
  failures = 0

  constructor(store: RestoreStore, target: RestoreTarget, log: Logger) {
    super()
    this.#store = store
    this.#target = target
    this.#log = log
  }

  /** The connection now has an identity: join what its agent held last time, then keep track. */
  identified(conn: Connection): void {
    const agent = conn.identity?.userId
    if (agent === undefined) return
    const held = this.#held.get(conn) ?? new Set(conn.subscriptions)
    this.#held.set(conn, held)
    this.#store.load(agent).then(
      (channels) => {
        if (!this.#held.has(conn)) return // closed while loading
        this.#restoring.add(conn)
        try {
          for (const channel of channels) this.#target.autoJoin(conn, channel)
        } finally {
          this.#restoring.delete(conn)
        }
        if (channels.length > 0) this.restored++
        this.#save(conn)
        this.emit('restored', conn, channels)
      },
      (err: unknown) => this.#failed(err, agent),
    )
  }

  /**
   * A subscription of an identified connection changed. Returns the save, settled once the store
   * answered (never rejects): the subscribe or unsubscribe answer waits for it, so an agent told
   * `success` that reconnects at once, to any instance, finds the change (docs/protocol.md B).
   */
  changed(conn: Connection, channel: string, joined: boolean): Promise<void> | undefined {
    const held = this.#held.get(conn)
    if (held === undefined) return undefined
    if (joined) held.add(channel)
    else held.delete(channel)
    return this.#restoring.has(conn) ? undefined : this.#save(conn)
  }

  /** The connection closed: keep its last subscriptions for restore_ttl from now. */
  closed(conn: Connection): void {
    if (!this.#held.has(conn)) return
    this.#save(conn)
    this.#held.delete(conn)
  }

  /** Saves the connection's channels: at once, or (a save in flight) in the one save queued behind it. */
  #save(conn: Connection): Promise<void> | undefined {
    const agent = conn.identity?.userId
    const held = this.#held.get(conn)
    if (agent === undefined || held === undefined) return undefined
    const saving = this.#saving.get(conn)
    if (saving === undefined) {
      const lane: Saving = { next: null, start: null }
      this.#saving.set(conn, lane)
      return this.#write(conn, lane, agent, held)
    }
    // The set object outlives the connection's close: the queued save writes its last channels.
    saving.next ??= new Promise<void>((resolve) => {
      saving.start = () => {
        saving.next = null
        void this.#write(conn, saving, agent, held).then(resolve)
      }
    })
    return saving.next
  }

  #write(conn: Connection, lane: Saving, agent: string, held: ReadonlySet<string>): Promise<void> {
    return this.#store
      .save(agent, [...held])
      .catch((err: unknown) => this.#failed(err, agent))
      .finally(() => {
        const start = lane.start
        lane.start = null
        if (start === null) this.#saving.delete(conn)
        else start()
      })
  }

  #failed(err: unknown, agent: string): void {
    if (this.failures++ === 0 || this.failures % 1000 === 0) {
      this.#log.warn({ err, agent, failures: this.failures }, 'subscription restore store failed')
    }
  }
}
