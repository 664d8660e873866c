import type { Logger } from 'pino'
import { BoundedMap } from '../util/bounded-map.js'
import type { Clock } from './clock.js'
import type { DeliveryMessage } from '../broker/handover-messages.js'
import { handoverMessages } from './delivery-messages.js'
import { type DeliverySettings, eventMatcher } from './delivery-settings.js'
import { DeliveryTracker } from './delivery-tracker.js'
import type { DeliveryStats, DeliveryTarget, TrackedFrame } from './delivery-types.js'

/** Identities whose latest connection was announced by another instance, remembered at most. */
const MAX_REMOTE_IDENTITIES = 10_000

/** How delivery messages reach the other instances of the service (the broker adds version and origin). */
export interface DeliveryPort {
  send(msg: DeliveryMessage): void
  /** Whether a message sent now would reach the cluster (false when standalone or while Redis is away). */
  readonly connected: boolean
}

/**
 * A service's at-least-once delivery (docs/protocol.md A.8): which events are tracked, the
 * tracker, and the handover between instances. When an identity connects here, the other
 * instances hear a `claim` and hand over the events they hold for it without a connection; an
 * instance whose connection of that identity closes later hands its events over at that time.
 */
export class Delivery {
  readonly #frames = new WeakMap<Buffer, TrackedFrame>()
  readonly tracker: DeliveryTracker
  readonly settings: DeliverySettings
  readonly #tracked: ReadonlySet<string>
  /** Identity → the instance that last announced its connection (bounded; a newer claim wins). */
  readonly #elsewhere = new BoundedMap<string, string>(MAX_REMOTE_IDENTITIES)
  #port: DeliveryPort | null = null
  #self = ''

  /** `events` are the service's declared event names; the tracked ones are those matching `settings.tracked`. */
  constructor(settings: DeliverySettings, events: readonly string[], opts: { log?: Logger; clock?: Clock } = {}) {
    this.settings = settings
    const matches = eventMatcher(settings.tracked)
    this.#tracked = new Set(events.filter(matches))
    for (const pattern of settings.tracked) {
      if (!events.some(eventMatcher([pattern]))) opts.log?.warn({ pattern }, 'delivery.tracked: the pattern matches none of the service\'s events')
    }
    this.tracker = new DeliveryTracker({
      maxAttempts: settings.max_attempts,
      ackTimeoutMs: settings.ack_timeout * 1000,
      maxPendingPerRecipient: settings.max_pending_per_connection,
      maxPending: settings.max_pending,
      maxPendingBytes: settings.max_pending_bytes,
      clock: opts.clock,
      log: opts.log,
    })
  }

  /** Whether any event of the service is tracked. */
  get enabled(): boolean {
    return this.#tracked.size > 0
  }

  /** The tracked event names, sorted (for status views). */
  get trackedEvents(): string[] {
    return [...this.#tracked].sort()
  }

  isTracked(event: string): boolean {
    return this.#tracked.has(event)
  }

  /** Joins the cluster: `port` reaches the other instances; `self` is this instance's id. */
  join(self: string, port: DeliveryPort): void {
    this.#self = self
    this.#port = port
  }

  /** A connection is open (or just identified itself): it receives its identity's waiting events, and the cluster hears of it. */
  attach(target: DeliveryTarget, identity: string | null): void {
    if (!this.enabled) return
    this.tracker.attach(target, identity)
    if (identity === null) return
    this.#elsewhere.delete(identity)
    if (this.#port?.connected === true) this.#port.send({ kind: 'claim', recipient: identity })
  }

  /** A connection closed; its identity's events go to the instance it reconnected to, if one said so. */
  detach(target: DeliveryTarget): void {
    if (!this.enabled) return
    const waiting = this.tracker.detach(target)
    if (waiting === null) return
    const there = this.#elsewhere.get(waiting)
    if (there !== undefined) this.#handOver(waiting, there)
  }

  /**
   * Wraps one broadcast's frame so its recipients share it: the live ones and those that get it
   * from a replay or after one (the same bytes, counted once against max_pending_bytes).
   */
  frame(bytes: Buffer): TrackedFrame {
    let frame = this.#frames.get(bytes)
    if (frame === undefined) this.#frames.set(bytes, (frame = this.tracker.frame(bytes)))
    return frame
  }

  /** Tracks the first copy of `id` just sent to `target`; false when a bound was reached. */
  track(target: DeliveryTarget, id: string, event: string, frame: TrackedFrame): boolean {
    return this.tracker.track(target, id, event, frame)
  }

  /** An ack from `target`; unknown, foreign and malformed ids are counted and ignored. */
  ack(target: DeliveryTarget, id: unknown): boolean {
    return this.tracker.ack(target, typeof id === 'string' ? id : '')
  }

  /** A delivery message from instance `origin` (already validated by the broker). */
  receive(origin: string, msg: DeliveryMessage): void {
    if (origin === this.#self) return
    if (msg.kind === 'claim') {
      this.#elsewhere.set(msg.recipient, origin)
      if (this.tracker.hasOrphans(msg.recipient)) this.#handOver(msg.recipient, origin)
      return
    }
    if (msg.to === this.#self) this.tracker.adopt(msg.recipient, msg.entries)
  }

  stats(): DeliveryStats {
    return this.tracker.stats()
  }

  close(): void {
    this.tracker.close()
  }

  #handOver(identity: string, to: string): void {
    // Without a reachable cluster the events stay here and keep their schedule.
    const port = this.#port
    if (port === null || !port.connected) return
    for (const msg of handoverMessages(to, identity, this.tracker.takeOrphans(identity))) port.send(msg)
  }
}
