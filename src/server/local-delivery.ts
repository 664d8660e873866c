import type { Delivery } from '../delivery/delivery.js'
import type { Publication, ServerCodec } from '../protocol/messages.js'
import type { Connection } from './connection.js'
import { textFrame } from './frame.js'
import type { HeldDeliveries } from './history-subscribe.js'
import type { Observers } from './observers.js'
import type { BroadcastObserver, ServerStats } from './stats.js'

/** What the delivery to local rooms works with: the server's codec, rooms, counters and trackers. */
export interface LocalDeliveryDeps {
  readonly codec: ServerCodec
  /** Subscribers still being replayed to (history-subscribe.ts). */
  readonly held: HeldDeliveries<Connection>
  /** At-least-once tracking of tracked events (docs/protocol.md A.8). */
  readonly delivery: Delivery
  readonly stats: ServerStats
  /** A room's local members. */
  members(room: string): ReadonlySet<Connection> | undefined
  /** Operator connections watching channels by pattern (docs/protocol.md A.9). */
  readonly observers: Observers<Connection>
  /** The metrics module's observer of every broadcast, if any. */
  observer(): BroadcastObserver | null
}

/** Delivers a publication to this instance's subscribers: encoded once, the same bytes to each. */
export class LocalDelivery {
  readonly #deps: LocalDeliveryDeps

  constructor(deps: LocalDeliveryDeps) {
    this.#deps = deps
  }

  /** Sends `pub` to its room's members and to those of `alsoTo` (each connection once); returns how many got it. */
  deliver(pub: Publication, alsoTo: readonly string[]): number {
    const { codec, held: heldDeliveries, delivery, stats, observers } = this.#deps
    const members = this.#audience(pub, alsoTo)
    if (members === undefined) {
      if (observers.size > 0) this.#observe(pub, textFrame(codec.encodeEvent(pub)), undefined)
      return 0
    }
    const started = this.#deps.observer() === null ? 0 : performance.now()
    // Framed once as a text frame (docs/protocol.md A.1); every subscriber gets the same bytes.
    const frame = textFrame(codec.encodeEvent(pub))
    // Subscribers still being replayed to get it after their replay, just replayed ones not twice (history-subscribe.ts).
    const holding = heldDeliveries.holders(pub.channel)
    let n = 0
    // A tracked event (docs/protocol.md A.8) is tracked per recipient; the retries re-send these same bytes.
    const tracked = delivery.isTracked(pub.event) ? delivery.frame(frame) : null
    for (const conn of members) {
      const gate = holding?.get(conn)
      if (gate !== undefined && !heldDeliveries.pass(conn, gate, pub, frame)) continue
      if (tracked === null) {
        if (conn.sendFramed(frame)) n++
        continue
      }
      // Tracked for a closing connection too: its identity may reconnect and get it then.
      // An observer owes no ack, also for a room it is in (the context service auto-subscribes global).
      // Not sent again when already sent to it: adopted from the durable record before it arrived live.
      if (delivery.deliver(conn, pub.id, pub.event, tracked, observers.size === 0 || !observers.observes(conn))) n++
    }
    stats.broadcasts++
    stats.deliveries += n
    stats.countOut('event', n)
    this.#deps.observer()?.onBroadcast(pub.channel, n, (performance.now() - started) / 1000)
    if (observers.size > 0) this.#observe(pub, frame, members)
    return n
  }

  /**
   * The same bytes to the observers of the channel that did not get them as subscribers: never
   * tracked (an observer owes no ack), not counted in `deliveries`, under the same slow-consumer
   * bound as any send (docs/protocol.md A.9).
   */
  #observe(pub: Publication, frame: Buffer, members: ReadonlySet<Connection> | undefined): void {
    let n = 0
    for (const conn of this.#deps.observers.matching(pub.channel)) {
      if (members?.has(conn) === true) continue
      if (conn.sendFramed(frame)) n++
    }
    if (n > 0) this.#deps.stats.countOut('event', n)
  }

  /** The connections a publication goes to: its room's members, plus those of `alsoTo`, each once. */
  #audience(pub: Publication, alsoTo: readonly string[]): ReadonlySet<Connection> | undefined {
    const members = this.#deps.members(pub.channel)
    if (alsoTo.length === 0) return members
    const all = new Set(members)
    for (const room of alsoTo) for (const conn of this.#deps.members(room) ?? []) all.add(conn)
    return all.size === 0 ? undefined : all
  }
}
