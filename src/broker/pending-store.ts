/**
 * The durable record of tracked deliveries (docs/protocol.md A.8, "What survives what"). The
 * delivery tracker (src/delivery/) keeps pending events in memory and is the fast path; a store
 * keeps a copy of each identity's pending events where another instance can find them when the
 * instance holding them dies. Writes are fire-and-forget and batched per turn; only adoption
 * waits for an answer.
 *
 * Ownership is per identity: the instance where the identity is connected owns its record and
 * keeps a lease (renewed by its heartbeat). An instance where the identity connects adopts the
 * record when it has no owner, is its own, or its owner's lease has expired (the owner died).
 *
 * Two kinds: `memory` (the tracker is the only record: a process death loses what is pending)
 * `redis` (redis-pending.ts, on one Redis or a Redis Cluster) and `primary` (ipc-pending.ts: the
 * workers of one service without Redis, kept by their primary).
 */
export interface PendingStore {
  /** `memory`, `redis` or `primary` (in /stats as `delivery.durable`). */
  readonly kind: 'memory' | 'redis' | 'primary'
  /** Whether the record outlives this process. */
  readonly durable: boolean
  /** An event pending for `identity` (first tracked, re-sent, or taken over): written, or rewritten with its attempts. */
  put(identity: string, entry: StoredEntry): void
  /** An event of `identity` acknowledged or failed: removed. */
  remove(identity: string, id: string): void
  /**
   * `identity` connected here: when its record has no live owner other than `self`, this
   * instance becomes its owner and gets every event in it. `wait` answers with the milliseconds
   * to wait before asking again when another instance holds a live lease on it.
   */
  adopt(identity: string): Promise<Adoption>
  /** `identity` has no connection here any more: its record is left for the next instance it connects to. */
  release(identity: string): void
  /** This instance is alive (called on every heartbeat). */
  renew(): void
  /** Starts with this instance's id, how long a record is kept after its last write and its bound. */
  open(self: string, timing: PendingTiming): void
  /**
   * Records `entry` for `identity` and publishes `bytes` on the cluster channel `channel` in one
   * step where the store can (one Redis: one script; a Redis Cluster: the write, then the
   * publish). Resolves with the receivers; rejects when it could not be sent. Absent on a store
   * that keeps nothing.
   */
  publishRecorded?(identity: string, entry: StoredEntry, channel: string, bytes: string): Promise<number>
  /**
   * Stops renewing; what is recorded stays for the next instance (a graceful stop behaves like a
   * death, minus the lease wait). Resolves once the last writes, releases and the lease's
   * deletion were answered, or after a bound (never hangs a stop while the store is away): the
   * broker closes its connection only then.
   */
  close(): Promise<void>
}

/** One pending event as stored: its id, event name, the frame's JSON text and the sends already spent. */
export interface StoredEntry {
  readonly id: string
  readonly event: string
  readonly text: string
  readonly attempts: number
  /** Its place among the identity's events (`entryOrder()` when first tracked): adoption sends them in this order. */
  readonly order: number
}

let lastOrder = 0

/** A number above every earlier one of this process, near the wall clock in microseconds (so instances roughly agree). */
export function entryOrder(): number {
  lastOrder = Math.max(Date.now() * 1000, lastOrder + 1)
  return lastOrder
}

export type Adoption = { readonly entries: readonly StoredEntry[] } | { readonly wait: number } | null

export interface PendingTiming {
  /** How long an identity's record is kept after its last write. */
  readonly keepMs: number
  /** Most events one identity's record may hold (delivery.max_pending_per_connection). */
  readonly maxPerIdentity: number
}

/** No durable record: the tracker in memory is all there is (one process, or `delivery.durable: off`). */
export const memoryPendingStore: PendingStore = {
  kind: 'memory',
  durable: false,
  put() {},
  remove() {},
  adopt: () => Promise.resolve(null),
  release() {},
  renew() {},
  open() {},
  close: () => Promise.resolve(),
}
