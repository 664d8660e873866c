import type { Logger } from 'pino'
import { CONTROL_CHANNEL, DIRECT_CHANNEL, roomChannel } from './cluster-channels.js'
import type { Transport } from './transport.js'

/** What the room subscriptions need from the cluster layer that owns the transport. */
export interface ClusterRoomsHost {
  readonly transport: Transport
  /** The service observes every room (it keeps a projection): every room at once instead of room by room. */
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
 * the resubscribe of everything after the receiving side reconnects. A service that observes
 * every room subscribes every room at once instead, and nothing per room.
 */
export class ClusterRooms {
  readonly #host: ClusterRoomsHost
  readonly #rooms = new Set<string>()
  readonly #pending = new Map<string, Promise<void>>()
  #ready = false

  constructor(host: ClusterRoomsHost) {
    this.#host = host
  }

  /** Whether the receiving side has (re)subscribed since it last connected. */
  get ready(): boolean {
    return this.#ready
  }

  /** The receiving side went away: its subscriptions are gone until the next resubscribe. */
  lost(): void {
    this.#ready = false
  }

  /** Whether the transport hands this instance the publications of `channel` (its room, or every room). */
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
    if (this.#host.observeAll() || !this.#ready) return
    this.#host.transport.unsubscribe(roomChannel(room)).catch((err: Error) => this.#host.log.debug({ err: err.message, room }, 'unsubscribe failed'))
  }

  whenSubscribed(room: string): Promise<void> | null {
    return this.#pending.get(room) ?? null
  }

  /** Subscribes one room's channel; the promise settles on confirmation, failure or timeout. */
  #subscribeRoom(room: string): Promise<void> {
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
    void done.then(() => {
      if (this.#pending.get(room) === done) this.#pending.delete(room)
    })
    return done
  }

  /** On every (re)connect of the receiving side: the cluster channels, then every room (or all rooms). */
  async resubscribe(): Promise<void> {
    const transport = this.#host.transport
    if (this.#host.closed()) return
    const snapshot = new Set(this.#rooms)
    try {
      if (this.#host.observeAll()) {
        await transport.subscribe([CONTROL_CHANNEL, DIRECT_CHANNEL])
        await transport.subscribeEveryRoom()
      } else {
        await transport.subscribe([CONTROL_CHANNEL, DIRECT_CHANNEL, ...[...snapshot].map(roomChannel)])
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
