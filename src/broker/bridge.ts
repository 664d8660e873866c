import type { DirectMessage, Publication } from '../protocol/messages.js'

/**
 * Where a bridge pushes what it receives. The server implements it; the bridge never sees a
 * socket (STYLE.md 2).
 */
export interface BridgeSink {
  /** Deliver a publication to this instance's local subscribers; returns how many received it. */
  deliver(pub: Publication): number
  /** Deliver a direct message if the connection is local; returns whether it was. */
  deliverDirect(msg: DirectMessage): boolean
}

/** `standalone`: no cluster configured; `connected`: cluster reachable; `degraded`: configured but unreachable. */
export type BridgeState = 'standalone' | 'connecting' | 'connected' | 'degraded' | 'closed'

export interface BridgeStats {
  readonly state: BridgeState
  readonly kind: string
  /** Live instances of this service known to the bridge (1 when standalone). */
  readonly instances: number
  readonly published: number
  readonly received: number
  /** Messages off the cluster that failed validation: counted and dropped. */
  readonly malformed: number
  /** Publications and direct messages that could not be sent to the cluster (it was unreachable). */
  readonly dropped: number
  /** Cluster-wide connection total, when the bridge knows it; otherwise null. */
  readonly clusterConnections: number | null
}

/** Where a direct message went: a local connection, one on another instance, or none known. */
export type DirectOutcome = 'local' | 'remote' | 'unknown'

/** What a bridge knows of the instance it serves. */
export interface BridgeInstance {
  /** Unique per process start; carried as `origin` on every cluster message. */
  readonly id: string
  readonly service: string
  /** This instance's current connection count (announced to the cluster). */
  readonly connections: () => number
  /**
   * The service keeps state from every publication (it overrides `onPublication`), so the
   * bridge must hand it every room's publications, not only those of rooms with local members.
   */
  readonly observeAll?: boolean
  /** Whether a publication from another instance is valid here (channel, event, payload); default all. */
  readonly accepts?: (pub: Publication) => boolean
}

/** Moves publications between the instances of one service. */
export interface Bridge {
  readonly kind: string
  readonly state: BridgeState
  /** Connects; must not throw when the cluster is unreachable (degrade instead). */
  start(sink: BridgeSink, instance: BridgeInstance): Promise<void>
  /** Publish to every instance, including this one (delivered locally exactly once, at once); returns local recipients. */
  publish(pub: Publication): number
  /** Send to one connection wherever it lives: here, on another instance, or nowhere known. */
  sendDirect(msg: DirectMessage): DirectOutcome | Promise<DirectOutcome>
  /** The first local member joined `room`. */
  roomActive(room: string): void
  /** The last local member left `room`. */
  roomIdle(room: string): void
  /**
   * Settles once the cluster will deliver `room`'s publications here (the subscribe is confirmed,
   * failed, or timed out); null when there is nothing to wait for. Never rejects.
   */
  whenSubscribed(room: string): Promise<void> | null
  stats(): BridgeStats
  close(): Promise<void>
}
