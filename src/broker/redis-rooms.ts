import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { RedisNames } from './redis-channels.js'

/** What the room subscriptions need from the Redis broker that owns the subscriber connection. */
export interface RoomSubscriptionsHost {
  /** The subscriber connection (null before start). */
  sub(): Redis | null
  names(): RedisNames | null
  /** The service observes every room (it keeps a projection): one pattern instead of room by room. */
  observeAll(): boolean
  closed(): boolean
  /** A resubscribe finished (whether or not it succeeded): refresh the state and announce ourselves. */
  resubscribed(): void
  readonly log: Logger
  readonly subscribeTimeoutMs: number
}

/**
 * The Redis side of the rooms with local members: which room channels the subscriber connection
 * listens to, the subscribes in flight (a subscribe request answers once its room is live), and
 * the resubscribe of everything after a reconnect. A service that observes every room listens
 * to one pattern instead, and subscribes nothing per room.
 */
export class RoomSubscriptions {
  readonly #host: RoomSubscriptionsHost
  readonly #rooms = new Set<string>()
  readonly #pending = new Map<string, Promise<void>>()
  #ready = false

  constructor(host: RoomSubscriptionsHost) {
    this.#host = host
  }

  /** Whether the subscriber connection has (re)subscribed since it last connected. */
  get ready(): boolean {
    return this.#ready
  }

  /** The subscriber connection closed: its subscriptions are gone until the next resubscribe. */
  lost(): void {
    this.#ready = false
  }

  /** Whether Redis hands this instance the publications of `channel` (its room, or every room). */
  listens(channel: string): boolean {
    return this.#ready && (this.#host.observeAll() || this.#rooms.has(channel))
  }

  active(room: string): void {
    this.#rooms.add(room)
    if (this.#host.observeAll() || !this.#ready) return
    this.#pending.set(room, this.#subscribeRoom(room))
  }

  idle(room: string): void {
    this.#rooms.delete(room)
    this.#pending.delete(room)
    const sub = this.#host.sub()
    const names = this.#host.names()
    if (this.#host.observeAll() || !this.#ready || sub === null || names === null) return
    sub.unsubscribe(names.room(room)).catch((err: Error) => this.#host.log.debug({ err: err.message, room }, 'unsubscribe failed'))
  }

  whenSubscribed(room: string): Promise<void> | null {
    return this.#pending.get(room) ?? null
  }

  /** Subscribes one room's channel; the promise settles on confirmation, failure or timeout. */
  #subscribeRoom(room: string): Promise<void> {
    const sub = this.#host.sub()
    const names = this.#host.names()
    if (sub === null || names === null) return Promise.resolve()
    const done = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.#host.subscribeTimeoutMs)
      timer.unref()
      sub.subscribe(names.room(room)).then(
        () => resolve(),
        (err: Error) => {
          this.#host.log.debug({ err: err.message, room }, 'subscribe failed; retried when redis is back')
          resolve()
        },
      ).finally(() => clearTimeout(timer))
    })
    void done.then(() => {
      if (this.#pending.get(room) === done) this.#pending.delete(room)
    })
    return done
  }

  /** On every (re)connect of the subscriber: the cluster channels, then every room (or all rooms). */
  async resubscribe(): Promise<void> {
    const sub = this.#host.sub()
    const names = this.#host.names()
    if (sub === null || names === null || this.#host.closed()) return
    const snapshot = new Set(this.#rooms)
    try {
      if (this.#host.observeAll()) {
        await sub.subscribe(names.cluster, names.direct)
        await sub.psubscribe(names.allRooms)
      } else {
        await sub.subscribe(names.cluster, names.direct, ...[...snapshot].map((r) => names.room(r)))
      }
      this.#ready = true
      // Rooms that became active, or idle, while the resubscribe was in flight.
      for (const room of this.#rooms) if (!snapshot.has(room)) this.active(room)
      for (const room of snapshot) if (!this.#rooms.has(room)) this.idle(room)
    } catch (err) {
      this.#host.log.debug({ err: (err as Error).message }, 'resubscribe failed; retried on the next reconnect')
    }
    this.#host.resubscribed()
  }
}
