import type { Logger } from 'pino'
import { BoundedMap } from '../util/bounded-map.js'
import { type Clock, systemClock } from './clock.js'
import type { DeliveryMessage } from '../broker/handover-messages.js'
import { entryOrder, memoryPendingStore, type PendingStore, type StoredEntry } from '../broker/pending-store.js'
import { frameText } from './frame-text.js'
import { handoverMessages } from './delivery-messages.js'
import { type DeliverySettings, eventMatcher } from './delivery-settings.js'
import { DeliveryTracker } from './delivery-tracker.js'
import type { DeliveryStats, DeliveryTarget, TrackedFrame } from './delivery-types.js'

/** Identities whose latest connection was announced by another instance, remembered at most. */
const MAX_REMOTE_IDENTITIES = 10_000

/** A record is kept this long beyond the time its events take to fail (`max_attempts × ack_timeout`). */
const KEEP_MARGIN_MS = 60_000
/** Looked at again this long after another instance's lease would have run out. */
const LEASE_MARGIN_MS = 100

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
  #store: PendingStore = memoryPendingStore
  /** Identities whose record is being adopted → the events settled or handed over meanwhile (the record may still hold them). */
  readonly #adopting = new Map<string, Set<string>>()
  readonly #clock: Clock
  readonly #log: Logger | undefined

  /** `events` are the service's declared event names; the tracked ones are those matching `settings.tracked`. */
  constructor(settings: DeliverySettings, events: readonly string[], opts: { log?: Logger; clock?: Clock } = {}) {
    this.settings = settings
    this.#clock = opts.clock ?? systemClock
    this.#log = opts.log
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

  /**
   * Joins the cluster: `port` reaches the other instances; `self` is this instance's id;
   * `store` keeps the durable record of pending events (unless `delivery.durable` is off).
   */
  join(self: string, port: DeliveryPort, store: PendingStore = memoryPendingStore): void {
    this.#self = self
    this.#port = port
    if (!this.enabled || !store.durable || this.settings.durable === 'off') return
    this.#store = store
    store.open(self, {
      keepMs: Math.round(this.settings.max_attempts * this.settings.ack_timeout * 1000) + KEEP_MARGIN_MS,
      maxPerIdentity: this.settings.max_pending_per_connection,
    })
    this.tracker.recordTo({
      put: (identity, id, event, frame, attempts, order) => {
        // One entry for all the event's recipients with the same sends and place (every live
        // recipient of a broadcast): no object per delivery. Stores keep no reference to it.
        let entry = frame.stored
        if (entry === undefined || entry.attempts !== attempts || entry.order !== order || entry.id !== id) {
          entry = { id, event, text: (frame.text ??= frameText(frame.bytes)), attempts, order }
          frame.stored = entry
        }
        store.put(identity, entry)
      },
      remove: (identity, id) => {
        // Mostly none is being adopted: no look-up per ack then.
        if (this.#adopting.size > 0) this.#adopting.get(identity)?.add(id)
        store.remove(identity, id)
      },
    })
  }

  /** Where pending events are recorded: `redis` or `primary` (they outlive this instance) or `memory`. */
  get durable(): 'memory' | 'redis' | 'primary' {
    return this.#store.kind
  }

  /**
   * What to record with the publish of `event` to a private channel of `owner` (a non-history
   * channel): the entry, when the event is tracked and the record is durable; else undefined.
   */
  recordFor(owner: string | null, id: string, event: string, text: () => string): { recipient: string; entry: StoredEntry } | undefined {
    if (owner === null || !this.#store.durable || !this.#tracked.has(event)) return undefined
    return { recipient: owner, entry: { id, event, text: text(), attempts: 1, order: entryOrder() } }
  }

  /** A connection is open (or just identified itself): it receives its identity's waiting events, and the cluster hears of it. */
  attach(target: DeliveryTarget, identity: string | null): void {
    if (!this.enabled) return
    this.tracker.attach(target, identity)
    if (identity === null) return
    this.#elsewhere.delete(identity)
    if (this.#port?.connected === true) this.#port.send({ kind: 'claim', recipient: identity })
    if (this.#store.durable) void this.#adoptRecord(identity)
  }

  /** A connection closed; its identity's events go to the instance it reconnected to, if one said so. */
  detach(target: DeliveryTarget): void {
    if (!this.enabled) return
    const identity = this.tracker.identityOf(target)
    const waiting = this.tracker.detach(target)
    if (identity !== null && !this.tracker.connectedHere(identity)) this.#store.release(identity)
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

  /**
   * Sends a broadcast's tracked event `id` to `target` and tracks it there (`track` false: an
   * observer, which owes no ack). With a durable record, not sent again when `target` already
   * got it and it is still pending: an event adopted from the record can arrive live too.
   * Returns whether the frame went out.
   */
  deliver(target: DeliveryTarget, id: string, event: string, frame: TrackedFrame, track: boolean): boolean {
    return this.tracker.deliver(target, id, event, frame, track, this.#store.durable)
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
    this.tracker.recordTo(null)
    this.#store = memoryPendingStore
  }

  /**
   * `identity` connected here: take over its durable record when no live instance owns it
   * (its owner died, or it has none) and send what it holds; while another instance holds a
   * live lease on it, look again when the lease would run out, as long as it is connected here.
   */
  async #adoptRecord(identity: string): Promise<void> {
    const store = this.#store
    if (this.#adopting.has(identity)) return
    const settled = new Set<string>()
    this.#adopting.set(identity, settled)
    let adoption
    try {
      adoption = await store.adopt(identity)
    } catch (err) {
      this.#log?.warn({ err, recipient: identity }, 'pending deliveries of the identity could not be read')
      return
    } finally {
      this.#adopting.delete(identity)
    }
    if (adoption === null || store !== this.#store) return
    if ('wait' in adoption) {
      this.#clock.schedule(() => {
        if (this.tracker.connectedHere(identity)) void this.#adoptRecord(identity)
      }, adoption.wait + LEASE_MARGIN_MS)
      return
    }
    // The identity left while the record was read (this instance may have handed its events over
    // already): adopted here they would wait for no connection and fail. The record stays for the
    // instance it connects to next; the ownership just taken goes again.
    if (!this.tracker.connectedHere(identity)) {
      store.release(identity)
      return
    }
    const entries = adoption.entries.filter((e) => !settled.has(e.id))
    if (entries.length > 0) this.tracker.adopt(identity, entries)
  }

  #handOver(identity: string, to: string): void {
    // Without a reachable cluster the events stay here and keep their schedule.
    const port = this.#port
    if (port === null || !port.connected) return
    const taken = this.tracker.takeOrphans(identity)
    // An adoption under way must not take them back from the record.
    const settled = this.#adopting.get(identity)
    if (settled !== undefined) for (const e of taken) settled.add(e.id)
    for (const msg of handoverMessages(to, identity, taken)) port.send(msg)
  }
}
