import type { Logger } from 'pino'
import type { StoredEntry } from '../broker/pending-store.js'
import type { Clock } from './clock.js'

/** Where a tracked event is sent: a connection (the server's Connection fits). */
export interface DeliveryTarget {
  readonly id: string
  /** Queues bytes already framed (server/frame.ts); false when the connection could not take them. */
  sendFramed(frame: Buffer): boolean
}

/** A framed event shared by all its recipients: its bytes count once against max_pending_bytes. */
export interface TrackedFrame {
  readonly bytes: Buffer
  refs: number
  /** The frame's text, once a durable record needed it (computed once for all recipients). */
  text?: string
  /** Its place among its recipients' events in the durable record (entryOrder() when first tracked), once recorded. */
  order?: number
  /** The entry last written to the durable record for it, shared by its recipients with the same sends and place. */
  stored?: StoredEntry
}

/**
 * Where the tracker reports what changes for an identity's pending events, for a durable copy
 * (the broker's PendingStore): an event tracked or re-sent (with the sends spent), settled
 * (acked or failed). Events that move to another instance by handover are not settled here.
 */
export interface TrackerRecord {
  put(identity: string, id: string, event: string, frame: TrackedFrame, attempts: number, order: number): void
  remove(identity: string, id: string): void
}

/** A pending event as it travels to another instance (the recipient reconnected there). */
export type { HandoverEntry } from '../broker/handover-messages.js'

export interface DeliveryStats {
  /** Tracked events not yet acknowledged nor failed. */
  readonly pending: number
  readonly pendingBytes: number
  readonly tracked: number
  readonly acked: number
  /** Re-sends: retries, and pending events sent to a recipient's new connection. */
  readonly resent: number
  readonly failed: number
  /** Events sent once without tracking because a bound was reached. */
  readonly overflow: number
  /** Acks naming no event pending for that connection's recipient (unknown, foreign, late duplicates). */
  readonly unknownAcks: number
  readonly handedOver: number
  readonly adopted: number
}

export interface TrackerOptions {
  readonly maxAttempts: number
  readonly ackTimeoutMs: number
  /** Pending events per recipient (a connection, or one identity across its connections). */
  readonly maxPendingPerRecipient: number
  readonly maxPending: number
  readonly maxPendingBytes: number
  readonly clock?: Clock
  readonly log?: Logger
  /** The durable copy of identities' pending events, if any. */
  readonly record?: TrackerRecord
}
