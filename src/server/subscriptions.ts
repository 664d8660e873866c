import type { Broker } from '../broker/broker.js'
import type { HistoryChannels } from '../broker/history-channels.js'
import { BatchedHistoryReads } from '../broker/history-reads.js'
import type { StreamPosition } from '../broker/position.js'
import { AppError, ErrorCode } from '../protocol/codes.js'
import type { JsonObject, ServerCodec } from '../protocol/messages.js'
import type { Connection } from './connection.js'
import { textFrame } from './frame.js'
import { frameCache, HeldDeliveries, type HistoryHost, subscribeWithHistory } from './history-subscribe.js'
import type { ServerPresence } from './presence.js'
import { RoomRegistry } from './room-registry.js'
import type { CoreHooks } from './service-hooks.js'
import type { ServerStats } from './stats.js'
import type { Delivery } from '../delivery/delivery.js'

/** What the rooms and the subscribe request work with. */
export interface SubscriptionsDeps {
  readonly broker: Broker
  /** Which channels keep history (settings.history). */
  readonly history: HistoryChannels
  readonly codec: ServerCodec
  readonly stats: ServerStats
  /** At-least-once tracking: a tracked event sent by a replay is tracked like a live one. */
  readonly delivery: Delivery
  /** settings.max_subscriptions: rooms per connection. */
  readonly maxSubscriptions: number
  /** settings.max_buffered_bytes: also the bound of what is held for one subscriber during its replay. */
  readonly maxBufferedBytes: number
  /** Each join and leave goes to the cluster's presence book (and join/leave events where asked). */
  readonly presence: ServerPresence
  /** The service's hooks told of each join and unsubscribe. */
  readonly hooks: Pick<CoreHooks, 'onSubscribe' | 'onUnsubscribe'>
  /** The subscriber could not take what was held for it during its replay: cut it as slow. */
  overflow(conn: Connection): void
}

/**
 * The rooms of this instance's connections and the subscribe request: the room registry (a
 * room's first join and last leave (un)subscribe it on the broker), the per-connection limit,
 * and on a history channel the recovery from `since`, live deliveries held meanwhile.
 */
export class Subscriptions {
  readonly rooms: RoomRegistry<Connection>
  /** Subscribers still being replayed to: live deliveries wait behind their replay. */
  readonly held: HeldDeliveries<Connection>
  readonly #deps: SubscriptionsDeps
  readonly #historyHost: HistoryHost<Connection>

  constructor(deps: SubscriptionsDeps) {
    const { broker, codec, stats, delivery } = deps
    this.#deps = deps
    const held = (this.held = new HeldDeliveries(deps.maxBufferedBytes))
    this.rooms = new RoomRegistry<Connection>({
      onActive: (room) => broker.roomActive(room),
      onIdle: (room) => broker.roomIdle(room),
      onLeave: (room, conn) => {
        // A subscriber that leaves during (or just after) its replay: nothing more is held or gated for it.
        held.forget(room, conn)
        deps.presence.left(conn, room)
      },
    })
    this.#historyHost = {
      held: this.held,
      reads: new BatchedHistoryReads((channel, after, opts) => broker.history(channel, after, opts)),
      join: (conn, channel) => this.add(conn, channel),
      whenSubscribed: (channel) => broker.whenSubscribed(channel),
      frame: frameCache((pub) => textFrame(codec.encodeEvent(pub))),
      send: (conn, frame, pub) => {
        const ok = conn.sendFramed(frame)
        if (ok) stats.countOut('event')
        // A tracked event replayed, or held during a replay, is tracked as a live one is (docs/protocol.md A.8).
        if (delivery.isTracked(pub.event)) delivery.track(conn, pub.id, pub.event, delivery.frame(frame))
        return ok
      },
      overflow: (conn) => deps.overflow(conn),
    }
  }

  /**
   * Adds the connection to a room, enforcing max_subscriptions; idempotent. Returns what a
   * subscribe answer waits for besides the broker: the service's onSubscribe (null: nothing).
   */
  add(conn: Connection, channel: string): Promise<void> | null {
    if (conn.subscriptions.has(channel)) return null
    const max = this.#deps.maxSubscriptions
    if (conn.subscriptions.size >= max) {
      throw new AppError(ErrorCode.TOO_MANY_SUBSCRIPTIONS, `Subscription limit reached (${max} channels per connection)`)
    }
    this.#deps.presence.joining(conn, channel)
    this.rooms.join(channel, conn)
    this.#deps.presence.joined(conn, channel)
    return this.#deps.hooks.onSubscribe(conn, channel)
  }

  /** The unsubscribe request: leaves the room; idempotent. Returns what its answer waits for (the service's onUnsubscribe), or null. */
  remove(conn: Connection, channel: string): Promise<void> | null {
    if (!conn.subscriptions.has(channel)) return null
    this.rooms.leave(channel, conn)
    return this.#deps.hooks.onUnsubscribe(conn, channel)
  }

  /**
   * The subscribe request: joins the room; on a history channel also answers the stream
   * position and recovers from `since` (docs/protocol.md A.8). Answers once the cluster
   * delivers the room here and the service recorded the join (onSubscribe, bounded).
   * `afterAnswer` runs a function once the answer has gone out (the replay follows it); without
   * it, the replay goes in the next turn.
   */
  subscribeTo(conn: Connection, channel: string, since: StreamPosition | null, afterAnswer?: (fn: () => void) => void): JsonObject | Promise<JsonObject> {
    const opts = this.#deps.history.optionsOf(channel)
    if (opts !== null) return subscribeWithHistory(this.#historyHost, conn, channel, since, opts, afterAnswer)
    const recorded = this.add(conn, channel)
    // `since` on a channel without history: nothing to recover from, and the client must know.
    const answer: JsonObject = since === null ? { status: 'subscribed', channel } : { status: 'subscribed', channel, recovered: false }
    const ready = this.#deps.broker.whenSubscribed(channel)
    if (ready === null && recorded === null) return answer
    return Promise.all([ready, recorded]).then(() => answer)
  }
}
