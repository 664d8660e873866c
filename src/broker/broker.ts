import type { DeliveryMessage } from './handover-messages.js'
import type { DirectMessage, Publication } from '../protocol/messages.js'
import type { PendingStore, StoredEntry } from './pending-store.js'
import type { PresenceBook, PresenceMember } from './cluster-presence.js'
import type { HistoryOptions, HistoryPage } from './position.js'

/**
 * Where a broker pushes what it receives. The server implements it; the broker never sees a
 * socket.
 */
export interface BrokerSink {
  /** Deliver a publication to this instance's local subscribers; returns how many received it. */
  deliver(pub: Publication): number
  /** Deliver a direct message if the connection is local; returns whether it was. */
  deliverDirect(msg: DirectMessage): boolean
  /** Local subscribers of `channel` right now. */
  subscriberCount(channel: string): number
  /** A tracked-delivery message from instance `origin` (claim or handover, docs/protocol.md A.8). */
  receiveDelivery?(origin: string, msg: DeliveryMessage): void
  /** A channel got its first subscriber anywhere in the cluster (told on one instance, the presence leader). */
  occupied?(channel: string): void
  /** A channel lost its last subscriber anywhere in the cluster (told on the presence leader). */
  vacated?(channel: string): void
  /** An instance went away with these members of a presence channel (told on the presence leader). */
  gone?(channel: string, members: readonly PresenceMember[]): void
}

/** What a publish reached. */
export interface PublishOutcome {
  /** The publication as delivered: with its stream position on a history channel. */
  readonly pub: Publication
  /**
   * Local subscribers it was delivered to (or, on a history channel of a cluster, is being
   * delivered to: it comes back through the transport).
   */
  readonly local: number
  /** Other instances the cluster handed it to (0 standalone or when the cluster is away). */
  readonly instances: number
  /** Subscribers those instances reported delivering to (0 unless `countRemote` was asked). */
  readonly remote: number
}

export interface PublishOptions {
  /**
   * Ask every other instance to report how many subscribers it delivered to, and wait for the
   * answers (bounded): for operator-facing publishes (HTTP, MCP), not the socket's hot path.
   */
  readonly countRemote?: boolean
  /**
   * A tracked event on a private channel: recorded as pending for the channel's owner in the
   * same step as the publish where the broker can (docs/protocol.md A.8), so it waits for the
   * owner even when no instance holds a connection of it now. Not for history channels.
   */
  readonly record?: { readonly recipient: string; readonly entry: StoredEntry }
}

/** `standalone`: no cluster configured; `connected`: cluster reachable; `degraded`: configured but unreachable. */
export type BrokerState = 'standalone' | 'connecting' | 'connected' | 'degraded' | 'closed'

export interface BrokerStats {
  readonly state: BrokerState
  readonly kind: string
  /** Live instances of this service known to the broker (1 when standalone). */
  readonly instances: number
  readonly published: number
  readonly received: number
  /** Messages off the cluster that failed validation: counted and dropped. */
  readonly malformed: number
  /** Publications and direct messages that could not be sent to the cluster (it was unreachable). */
  readonly dropped: number
  /** History publications refused with BROKER_UNAVAILABLE (they could not be stored). */
  readonly refused: number
  /** Cluster-wide connection total, when the broker knows it; otherwise null. */
  readonly clusterConnections: number | null
  /** The Redis Cluster as this instance sees it (only on a Redis Cluster broker). */
  readonly cluster?: BrokerTopology
}

/** A Redis Cluster's shape: `ok` while every slot has a master, `fail` while some has none, else the connection's status. */
export interface BrokerTopology {
  readonly state: string
  readonly masters: number
  readonly replicas: number
  /** Slots (of 16384) with a known master. */
  readonly slotsServed: number
}

/** A Redis Cluster's view in words, for `roomcast status` and the dashboard: `ok (3 masters, 3 replicas, 16384/16384 slots)`. */
export function describeTopology(t: BrokerTopology): string {
  return `${t.state} (${t.masters} masters, ${t.replicas} replicas, ${t.slotsServed}/16384 slots)`
}

/** Where a direct message went: a local connection, one on another instance, or none known. */
export type DirectOutcome = 'local' | 'remote' | 'unknown'

/** What a broker knows of the instance it serves. */
export interface BrokerInstance {
  /** Unique per process start; carried as `origin` on every cluster message. */
  readonly id: string
  readonly service: string
  /** This instance's current connection count (announced to the cluster). */
  readonly connections: () => number
  /**
   * The service keeps state from every publication (its spec has an `onPublication` hook), so the
   * broker must hand it every room's publications, not only those of rooms with local members.
   */
  readonly observeAll?: boolean
  /** Whether a publication from another instance is valid here (channel, event, payload); default all. */
  readonly accepts?: (pub: Publication) => boolean
}

/** Moves publications between the instances of one service. */
export interface Broker {
  readonly kind: string
  readonly state: BrokerState
  /** The durable record of pending tracked deliveries (pending-store.ts): `memory` keeps none. */
  readonly pending: PendingStore
  /** Every instance's subscribers per channel, and the members of presence channels (cluster-presence.ts). */
  readonly presence: PresenceBook
  /** Connects; must not throw when the cluster is unreachable (degrade instead). */
  start(sink: BrokerSink, instance: BrokerInstance): Promise<void>
  /**
   * Publish to every instance, including this one (delivered locally exactly once). Without
   * `history`: best effort, delivered locally at once, to other instances when the cluster is up.
   * With `history`: resolves once the publication is stored with its stream position; rejects
   * with AppError BROKER_UNAVAILABLE, having delivered it nowhere, when it cannot be stored.
   */
  publish(pub: Publication, history: HistoryOptions | null, opts?: PublishOptions): Promise<PublishOutcome>
  /**
   * The stream of a history channel: its top position and (unless `after` is null) the kept
   * publications above `after`. Rejects with BROKER_UNAVAILABLE when the store is unreachable.
   */
  history(channel: string, after: number | null, opts: HistoryOptions): Promise<HistoryPage>
  /** Send to one connection wherever it lives: here, on another instance, or nowhere known. */
  sendDirect(msg: DirectMessage): DirectOutcome | Promise<DirectOutcome>
  /** Sends a tracked-delivery message to every other instance (nothing to do when standalone). */
  sendDelivery(msg: DeliveryMessage): void
  /** The first local member joined `room`. */
  roomActive(room: string): void
  /** The last local member left `room`. */
  roomIdle(room: string): void
  /**
   * Settles once the cluster will deliver `room`'s publications here (the subscribe is confirmed,
   * failed, or timed out); null when there is nothing to wait for. Never rejects.
   */
  whenSubscribed(room: string): Promise<void> | null
  /**
   * This instance got its first observer (true) or lost its last one (false), docs/protocol.md
   * A.9: while it has observers, the cluster hands it every room's publications, not only those
   * of rooms with local members. Settles once that holds, or once it hears only its own rooms
   * again (confirmed, failed or timed out); null when there is nothing to wait for. Optional: a broker without it leaves observers to what
   * reaches the instance anyway.
   */
  observing?(on: boolean): Promise<void> | null
  stats(): BrokerStats
  close(): Promise<void>
}
