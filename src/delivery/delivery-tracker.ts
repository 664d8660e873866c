import { entryOrder } from '../broker/pending-store.js'
import { textFrame } from '../server/frame.js'
import { type Clock, systemClock } from './clock.js'
import { DeliveryLog } from './delivery-log.js'
import { frameText } from './frame-text.js'
import type { DeliveryStats, DeliveryTarget, HandoverEntry, TrackedFrame, TrackerOptions, TrackerRecord } from './delivery-types.js'
import { RetryQueue } from './retry-queue.js'

export type { DeliveryStats, DeliveryTarget, HandoverEntry, TrackedFrame, TrackerOptions }

/** How long, and for how many events at most, an ack here keeps a late second copy of its event from being adopted (#recentAcks). */
const RECENT_ACK_MS = 5 * 60_000
const RECENT_ACKS = 10_000

interface Recipient {
  /** The user or agent id; null for an anonymous connection (tracked per connection only). */
  readonly identity: string | null
  readonly key: string
  /** Pending events by id, in the order they were first sent. */
  readonly entries: Map<string, Entry>
  /** This recipient's open connections on this instance, newest last. */
  readonly targets: DeliveryTarget[]
}

interface Entry {
  readonly id: string
  readonly event: string
  readonly frame: TrackedFrame
  readonly recipient: Recipient
  /** Where the next attempt goes; null while the recipient has no open connection here. */
  target: DeliveryTarget | null
  attempts: number
  due: number
  done: boolean
  /** Its place among its recipient's events in the durable record (entryOrder()). */
  readonly order: number
  /** Taken over from another instance (handover or durable record) rather than tracked here. */
  readonly adopted: boolean
}

/**
 * At-least-once delivery of tracked events (docs/protocol.md A.8). The caller sends an event's
 * first copy and calls `track`; every `ack_timeout` without an ack the same framed bytes are
 * sent again, up to `max_attempts` sends, then the event counts as failed. Pending events
 * belong to a recipient: an identity outlives its connections, so a reconnect (`attach`)
 * receives what is still pending; an anonymous connection's events fail when it closes.
 */
export class DeliveryTracker {
  readonly #opts: TrackerOptions
  readonly #clock: Clock
  readonly #log: DeliveryLog
  readonly #queue: RetryQueue<Entry>
  #record: TrackerRecord | null
  readonly #recipients = new Map<string, Recipient>()
  readonly #byTarget = new Map<string, Recipient>()
  #pending = 0
  #pendingBytes = 0
  #tracked = 0
  #acked = 0
  #resent = 0
  #failed = 0
  #overflow = 0
  #unknownAcks = 0
  #handedOver = 0
  #adopted = 0
  /**
   * `identity\n id` → until when: adopted events an identity acked here lately. With the durable
   * record an event can reach this instance twice — adopted from Redis when the identity connects,
   * and handed over by the instance that had it once that one sees the old connection close — and
   * the second copy may come after the ack; it is not sent again. Only adopted events are
   * remembered (a handover can only repeat an adoption). Two generations, each of at most
   * RECENT_ACKS / 2 keys and RECENT_ACK_MS: the older is dropped whole when the newer is full,
   * O(1) per ack (a Map pruned from its front costs a walk over its deleted slots).
   */
  #recentAcks = new Map<string, number>()
  #olderAcks = new Map<string, number>()
  #recentSince = 0

  constructor(opts: TrackerOptions) {
    this.#opts = opts
    this.#clock = opts.clock ?? systemClock
    this.#log = new DeliveryLog(opts.log)
    this.#record = opts.record ?? null
    this.#queue = new RetryQueue(this.#clock, (entry, due) => this.#onDue(entry, due))
  }

  /**
   * A connection opened (or identified itself). An identity's pending events without an open
   * connection are sent to it at once; their retry schedule goes on unchanged.
   */
  attach(target: DeliveryTarget, identity: string | null): void {
    const current = this.#byTarget.get(target.id)
    if (current !== undefined) {
      if (current.identity === identity || identity === null) return
      this.#reidentify(target, current, identity)
      return
    }
    const rec = this.#recipient(identity, target)
    rec.targets.push(target)
    this.#byTarget.set(target.id, rec)
    if (identity === null) return
    for (const entry of rec.entries.values()) {
      if (entry.target !== null) continue
      entry.target = target
      this.#resent++
      target.sendFramed(entry.frame.bytes)
    }
  }

  /**
   * A connection closed. Its events move to the recipient's newest other connection here (sent
   * at once), else wait without one; an anonymous connection's events fail. Returns the
   * identity when some of its events now wait without a connection, else null.
   */
  detach(target: DeliveryTarget): string | null {
    const rec = this.#byTarget.get(target.id)
    if (rec === undefined) return null
    this.#byTarget.delete(target.id)
    rec.targets.splice(rec.targets.indexOf(target), 1)
    const next = rec.targets.at(-1) ?? null
    let orphans = 0
    for (const entry of [...rec.entries.values()]) {
      if (entry.target !== target) {
        if (entry.target === null) orphans++
        continue
      }
      if (rec.identity === null) {
        this.#fail(entry, 'connection closed')
        continue
      }
      entry.target = next
      if (next === null) orphans++
      else {
        this.#resent++
        next.sendFramed(entry.frame.bytes)
      }
    }
    this.#forgetIfIdle(rec)
    return orphans > 0 ? rec.identity : null
  }

  /** Wraps the bytes of one broadcast so every recipient's entry shares them. */
  frame(bytes: Buffer): TrackedFrame {
    return { bytes, refs: 0 }
  }

  /**
   * Tracks an event whose first copy was just sent to `target`. Returns false when a bound was
   * reached (the event was sent once, untracked, and counted as overflow) or `target` is unknown.
   * The same id sent to two connections of one identity is tracked once.
   */
  track(target: DeliveryTarget, id: string, event: string, frame: TrackedFrame): boolean {
    const rec = this.#byTarget.get(target.id)
    if (rec === undefined) return false
    if (rec.entries.has(id)) return true
    if (!this.#admits(rec, frame, id, event)) return false
    this.#trackNew(rec, target, id, event, frame)
    return true
  }

  /**
   * A broadcast's tracked event for `target`: tracks it (unless `track` is false: an observer
   * owes no ack) and sends its frame, in one look-up of the target's recipient and the event.
   * With `skipSent`, an event already pending for the recipient and last sent to `target` (an
   * adopted one that also arrives live) is not sent again: returns false. Otherwise returns what
   * `sendFramed` returned; the event is tracked either way, as `track` after a send does. It is
   * tracked before the send, so a connection that closes within its send finds it pending.
   */
  deliver(target: DeliveryTarget, id: string, event: string, frame: TrackedFrame, track: boolean, skipSent: boolean): boolean {
    const rec = this.#byTarget.get(target.id)
    if (rec !== undefined) {
      const entry = rec.entries.get(id)
      if (entry === undefined) {
        if (track && this.#admits(rec, frame, id, event)) this.#trackNew(rec, target, id, event, frame)
      } else if (skipSent && entry.target === target) return false
    }
    return target.sendFramed(frame.bytes)
  }

  /** Reports identities' pending events to `record` from now on (the durable copy, once the broker is known). */
  recordTo(record: TrackerRecord | null): void {
    this.#record = record
  }

  /** The identity of an open connection here (null: anonymous or unknown). */
  identityOf(target: DeliveryTarget): string | null {
    return this.#byTarget.get(target.id)?.identity ?? null
  }

  /** Whether `identity` has an open connection here. */
  connectedHere(identity: string): boolean {
    return (this.#recipients.get(keyOf(identity, null))?.targets.length ?? 0) > 0
  }

  /** An ack from `target`: true when it settled one of its recipient's pending events; anything else is counted. */
  ack(target: DeliveryTarget, id: string): boolean {
    const entry = this.#byTarget.get(target.id)?.entries.get(id)
    if (entry === undefined) {
      this.#unknownAcks++
      return false
    }
    this.#acked++
    if (entry.adopted && entry.recipient.identity !== null) this.#rememberAck(entry.recipient.identity, id)
    this.#settle(entry)
    this.#forget(entry)
    return true
  }

  /** Whether `identity` has events waiting without a connection here. */
  hasOrphans(identity: string): boolean {
    const rec = this.#recipients.get(keyOf(identity, null))
    if (rec === undefined) return false
    for (const entry of rec.entries.values()) if (entry.target === null) return true
    return false
  }

  /** Removes and returns `identity`'s events waiting without a connection, for another instance to deliver. */
  takeOrphans(identity: string): HandoverEntry[] {
    const rec = this.#recipients.get(keyOf(identity, null))
    if (rec === undefined) return []
    const out: HandoverEntry[] = []
    for (const entry of [...rec.entries.values()]) {
      if (entry.target !== null) continue
      out.push({ id: entry.id, event: entry.event, text: frameText(entry.frame.bytes), attempts: entry.attempts })
      this.#handedOver++
      this.#settle(entry)
    }
    return out
  }

  /**
   * Takes over events another instance handed over for `identity`: framed once here, sent at
   * once to its newest connection (if any), then retried as usual with a fresh ack_timeout.
   */
  adopt(identity: string, entries: readonly HandoverEntry[]): number {
    const rec = this.#recipient(identity, null)
    const target = rec.targets.at(-1) ?? null
    let n = 0
    for (const h of entries) {
      if (rec.entries.has(h.id) || this.#ackedLately(identity, h.id)) continue
      const frame = this.frame(textFrame(h.text))
      if (!this.#admits(rec, frame, h.id, h.event)) continue
      const attempts = Math.min(Math.max(1, Math.trunc(h.attempts)), this.#opts.maxAttempts)
      this.#add(rec, h.id, h.event, frame, target, attempts, true)
      if (target !== null) {
        this.#resent++
        target.sendFramed(frame.bytes)
      }
      this.#adopted++
      n++
    }
    this.#forgetIfIdle(rec)
    return n
  }

  stats(): DeliveryStats {
    return {
      pending: this.#pending,
      pendingBytes: this.#pendingBytes,
      tracked: this.#tracked,
      acked: this.#acked,
      resent: this.#resent,
      failed: this.#failed,
      overflow: this.#overflow,
      unknownAcks: this.#unknownAcks,
      handedOver: this.#handedOver,
      adopted: this.#adopted,
    }
  }

  /** Pending events of one identity (or anonymous connection id), for status views and tests. */
  pendingOf(identity: string): number {
    return this.#recipients.get(keyOf(identity, null))?.entries.size ?? 0
  }

  /** Stops the timer and forgets everything pending (the server is stopping). */
  close(): void {
    this.#queue.clear()
    this.#recipients.clear()
    this.#byTarget.clear()
    this.#recentAcks.clear()
    this.#olderAcks.clear()
    this.#pending = 0
    this.#pendingBytes = 0
  }

  // ── internals ──────────────────────────────────────────────────────────────────────────

  #rememberAck(identity: string, id: string): void {
    const now = this.#clock.now()
    if (this.#recentAcks.size >= RECENT_ACKS / 2 || now - this.#recentSince >= RECENT_ACK_MS) {
      this.#olderAcks = this.#recentAcks
      this.#recentAcks = new Map()
      this.#recentSince = now
    }
    this.#recentAcks.set(`${identity}\n${id}`, now + RECENT_ACK_MS)
  }

  #ackedLately(identity: string, id: string): boolean {
    const key = `${identity}\n${id}`
    const until = this.#recentAcks.get(key) ?? this.#olderAcks.get(key)
    return until !== undefined && until > this.#clock.now()
  }

  #recipient(identity: string | null, target: DeliveryTarget | null): Recipient {
    const key = keyOf(identity, target)
    let rec = this.#recipients.get(key)
    if (rec === undefined) {
      rec = { identity, key, entries: new Map(), targets: [] }
      this.#recipients.set(key, rec)
    }
    return rec
  }

  /** An anonymous connection identified itself: it and its pending events join the identity. */
  #reidentify(target: DeliveryTarget, from: Recipient, identity: string): void {
    const moved = [...from.entries.values()].filter((e) => e.target === target)
    for (const entry of moved) this.#settle(entry)
    from.targets.splice(from.targets.indexOf(target), 1)
    this.#byTarget.delete(target.id)
    this.#forgetIfIdle(from)
    this.attach(target, identity)
    const to = this.#byTarget.get(target.id) as Recipient
    for (const e of moved) {
      if (to.entries.has(e.id)) continue
      this.#add(to, e.id, e.event, e.frame, target, e.attempts, e.adopted)
      this.#record?.put(identity, e.id, e.event, e.frame, e.attempts, e.order)
    }
  }

  #admits(rec: Recipient, frame: TrackedFrame, id: string, event: string): boolean {
    const o = this.#opts
    const bytes = frame.refs === 0 ? frame.bytes.length : 0
    if (rec.entries.size < o.maxPendingPerRecipient && this.#pending < o.maxPending && this.#pendingBytes + bytes <= o.maxPendingBytes) {
      return true
    }
    this.#log.overflow(++this.#overflow, { event, id, recipient: labelOf(rec), pending: this.#pending, pendingBytes: this.#pendingBytes })
    return false
  }

  #trackNew(rec: Recipient, target: DeliveryTarget, id: string, event: string, frame: TrackedFrame): void {
    this.#tracked++
    const entry = this.#add(rec, id, event, frame, target, 1)
    if (rec.identity !== null) this.#record?.put(rec.identity, id, event, frame, 1, entry.order)
  }

  #add(rec: Recipient, id: string, event: string, frame: TrackedFrame, target: DeliveryTarget | null, attempts: number, adopted = false): Entry {
    if (frame.refs++ === 0) this.#pendingBytes += frame.bytes.length
    // One place per event for all its recipients (their records share one value per turn).
    const order = this.#record === null ? 0 : (frame.order ??= entryOrder())
    const entry: Entry = { id, event, frame, recipient: rec, target, attempts, due: 0, done: false, order, adopted }
    entry.due = this.#queue.push(entry, this.#clock.now() + this.#opts.ackTimeoutMs)
    rec.entries.set(id, entry)
    this.#pending++
    return entry
  }

  #onDue(entry: Entry, due: number): void {
    // Settled, or rescheduled since: a stale queue slot.
    if (entry.done || entry.due !== due) return
    if (entry.attempts >= this.#opts.maxAttempts) return this.#fail(entry, 'not acknowledged')
    entry.attempts++
    const identity = entry.recipient.identity
    if (identity !== null) this.#record?.put(identity, entry.id, entry.event, entry.frame, entry.attempts, entry.order)
    if (entry.target !== null) {
      this.#resent++
      entry.target.sendFramed(entry.frame.bytes)
    }
    entry.due = this.#queue.push(entry, this.#clock.now() + this.#opts.ackTimeoutMs)
  }

  #settle(entry: Entry): void {
    entry.done = true
    const rec = entry.recipient
    rec.entries.delete(entry.id)
    this.#pending--
    if (--entry.frame.refs === 0) this.#pendingBytes -= entry.frame.bytes.length
    this.#forgetIfIdle(rec)
    // Settled entries stay in the queue until due; drop them once they outnumber the live ones.
    if (this.#queue.size > 2 * this.#pending + 1024) this.#queue.compact((e, d) => !e.done && e.due === d)
  }

  #fail(entry: Entry, reason: string): void {
    this.#failed++
    this.#settle(entry)
    this.#forget(entry)
    const { event, id, attempts } = entry
    this.#log.failed(Math.floor(this.#clock.now() / 1000), { event, id, recipient: labelOf(entry.recipient), attempts, reason })
  }

  /** An identity's event is settled for good (acked or failed): its durable copy goes too. */
  #forget(entry: Entry): void {
    const identity = entry.recipient.identity
    if (identity !== null) this.#record?.remove(identity, entry.id)
  }

  #forgetIfIdle(rec: Recipient): void {
    if (rec.entries.size === 0 && rec.targets.length === 0) this.#recipients.delete(rec.key)
  }
}

function keyOf(identity: string | null, target: DeliveryTarget | null): string {
  return identity !== null ? `id:${identity}` : `conn:${target?.id ?? ''}`
}

function labelOf(rec: Recipient): string {
  return rec.identity ?? `connection ${rec.key.slice(5)}`
}
