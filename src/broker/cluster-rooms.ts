import type { Logger } from 'pino'
import { CONTROL_CHANNEL, DIRECT_CHANNEL, roomChannel } from './cluster-channels.js'
import type { Transport } from './transport.js'

/** What the room subscriptions need from the cluster layer that owns the transport. */
export interface ClusterRoomsHost {
  readonly transport: Transport
  /** The service observes every room (it keeps a projection): every room at once instead of room by room, always. */
  observeAll(): boolean
  closed(): boolean
  /** A resubscribe finished (whether or not it succeeded): refresh the state and announce ourselves. */
  resubscribed(): void
  readonly log: Logger
  readonly subscribeTimeoutMs: number
}

/**
 * The transport side of the rooms with local members: which room channels the receiving side
 * listens to, the subscribes in flight (a subscribe request answers once its room is live), and
 * the resubscribe of everything after the receiving side reconnects.
 *
 * Rooms are heard one by one (a room's channel subscribed with its first local member, dropped
 * with its last), or all at once through the transport's every-room subscription (a Redis
 * pattern, every bucket of a Redis Cluster, a flag on a MemoryBus or the workers' primary): always
 * for a service that observes every room (a projection), and while this instance has observers
 * (docs/protocol.md A.9), so they see what is published on other instances too. Never both in
 * the steady state, so a publication reaches this instance once: the switch subscribes the new
 * way, then drops the old one (no gap), and the Redis transport drops the second copy of a
 * publication that both carried during the switch (redis-transport.ts).
 */
export class ClusterRooms {
  readonly #host: ClusterRoomsHost
  /** Rooms with local members. */
  readonly #rooms = new Set<string>()
  /** Rooms whose channel the transport subscribes by name. */
  #named = new Set<string>()
  readonly #pending = new Map<string, Promise<void>>()
  #ready = false
  /** This instance has observers: it wants every room. */
  #observers = false
  /** The transport's every-room subscription is confirmed. */
  #every = false
  #switching = false
  readonly #waiters = new Set<{ readonly every: boolean; readonly done: () => void }>()
  /** Bumped when the receiving side is lost or resubscribed: a switch in flight stops. */
  #epoch = 0

  constructor(host: ClusterRoomsHost) {
    this.#host = host
  }

  /** Whether the receiving side has (re)subscribed since it last connected. */
  get ready(): boolean {
    return this.#ready
  }

  /**
   * Settles once the transport hands this instance every room's publications (`every`), or only
   * those of its rooms again (not `every`): confirmed, failed or timed out. Null when that holds
   * already, or when there is nothing to wait for (the receiving side is away: it subscribes what
   * is wanted when it is back). Never rejects.
   */
  whenHeard(every: boolean): Promise<void> | null {
    // A switch in flight may be about to undo the state asked for (the last observer went and a new one came): wait for it.
    if (!this.#ready || (this.#every === every && !this.#switching) || this.#wantsEvery() !== every) return null
    return new Promise<void>((resolve) => {
      const waiters = this.#waiters
      const waiter = { every, done }
      const timer = setTimeout(done, this.#host.subscribeTimeoutMs)
      timer.unref()
      function done(): void {
        clearTimeout(timer)
        waiters.delete(waiter)
        resolve()
      }
      waiters.add(waiter)
    })
  }

  /** The every-room subscription is confirmed (true) or dropped (false): tell who waits for it. */
  #heard(every: boolean): void {
    this.#every = every
    for (const w of [...this.#waiters]) if (w.every === every) w.done()
  }

  /** The receiving side went away: its subscriptions are gone until the next resubscribe. */
  lost(): void {
    this.#ready = false
    this.#epoch++
  }

  /** Whether the transport hands this instance the publications of `channel` (its room, or every room). */
  listens(channel: string): boolean {
    return this.#ready && (this.#every || this.#named.has(channel))
  }

  active(room: string): void {
    this.#rooms.add(room)
    if (!this.#ready || (this.#every && this.#wantsEvery())) return
    this.#subscribeRoom(room)
  }

  idle(room: string): void {
    this.#rooms.delete(room)
    this.#pending.delete(room)
    if (!this.#ready || !this.#named.delete(room)) return
    this.#host.transport.unsubscribe(roomChannel(room)).catch((err: Error) => this.#host.log.debug({ err: err.message, room }, 'unsubscribe failed'))
  }

  whenSubscribed(room: string): Promise<void> | null {
    return this.#pending.get(room) ?? null
  }

  /** This instance has observers (true) or no longer has any (false): every room, or room by room again. */
  observe(on: boolean): void {
    if (this.#observers === on) return
    this.#observers = on
    this.#switch()
  }

  #wantsEvery(): boolean {
    return this.#observers || this.#host.observeAll()
  }

  /** Subscribes one room's channel by name; the promise settles on confirmation, failure or timeout. */
  #subscribeRoom(room: string): Promise<void> {
    this.#named.add(room)
    const done = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.#host.subscribeTimeoutMs)
      timer.unref()
      this.#host.transport.subscribe([roomChannel(room)]).then(
        () => resolve(),
        (err: Error) => {
          this.#host.log.debug({ err: err.message, room }, 'subscribe failed; retried when the cluster is back')
          resolve()
        },
      ).finally(() => clearTimeout(timer))
    })
    this.#pending.set(room, done)
    void done.then(() => {
      if (this.#pending.get(room) === done) this.#pending.delete(room)
    })
    return done
  }

  /**
   * Moves the transport to what is wanted now, one step at a time, re-reading the wish after each
   * (observers may come and go meanwhile): every room on (then the rooms by name off), or the
   * rooms by name on (then every room off). Stops when the receiving side is lost; the
   * resubscribe that follows subscribes what is wanted then.
   */
  #switch(): void {
    if (this.#switching || !this.#ready || this.#host.closed()) return
    this.#switching = true
    const epoch = this.#epoch
    const transport = this.#host.transport
    const current = () => this.#ready && epoch === this.#epoch && !this.#host.closed()
    void (async () => {
      try {
        while (current()) {
          const wants = this.#wantsEvery()
          if (wants && !this.#every) {
            await transport.subscribeEveryRoom()
            if (!current()) return
            this.#heard(true)
          } else if (wants && this.#named.size > 0) {
            const named = [...this.#named]
            this.#named.clear()
            await Promise.all(named.map((room) => transport.unsubscribe(roomChannel(room))))
          } else if (!wants && this.#every) {
            await Promise.all([...this.#rooms].filter((room) => !this.#named.has(room)).map((room) => this.#subscribeRoom(room)))
            if (!current()) return
            if (this.#wantsEvery()) continue
            await transport.unsubscribeEveryRoom()
            if (!current()) return
            this.#heard(false)
          } else {
            return
          }
        }
      } catch (err) {
        this.#host.log.debug({ err: (err as Error).message }, 'switching the room subscriptions failed; set again on the next reconnect')
      } finally {
        this.#switching = false
        for (const w of [...this.#waiters]) if (w.every === this.#every) w.done()
        // A resubscribe came while this switch waited: it may have found it in the way.
        if (epoch !== this.#epoch) this.#switch()
      }
    })()
  }

  /** On every (re)connect of the receiving side: the cluster channels, then every room (or all rooms). */
  async resubscribe(): Promise<void> {
    const transport = this.#host.transport
    if (this.#host.closed()) return
    const epoch = ++this.#epoch
    this.#every = false
    this.#named = new Set()
    const snapshot = new Set(this.#rooms)
    const every = this.#wantsEvery()
    try {
      if (every) {
        await transport.subscribe([CONTROL_CHANNEL, DIRECT_CHANNEL])
        await transport.subscribeEveryRoom()
      } else {
        await transport.subscribe([CONTROL_CHANNEL, DIRECT_CHANNEL, ...[...snapshot].map(roomChannel)])
      }
      if (epoch !== this.#epoch) return
      this.#ready = true
      if (every) this.#heard(true)
      else this.#named = snapshot
      // Rooms that became active, or idle, while the resubscribe was in flight.
      for (const room of this.#rooms) if (!snapshot.has(room)) this.active(room)
      for (const room of snapshot) if (!this.#rooms.has(room)) this.idle(room)
      // Observers that came or went meanwhile.
      this.#switch()
    } catch (err) {
      this.#host.log.debug({ err: (err as Error).message }, 'resubscribe failed; retried on the next reconnect')
    } finally {
      this.#host.resubscribed()
    }
  }
}
