import type { Logger } from 'pino'
import type { AccessPolicy } from '../auth/access-policy.js'
import type { Broker, DirectOutcome, PublishOptions } from '../broker/broker.js'
import type { HistoryChannels } from '../broker/history-channels.js'
import type { Settings } from '../config/settings.js'
import type { Delivery } from '../delivery/delivery.js'
import type { CompiledChannel } from '../protocol/channels.js'
import type { JsonObject, Publication } from '../protocol/messages.js'
import type { Connection } from './connection.js'
import type { PresencePage } from './presence.js'
import type { StatusRegistry } from './status-registry.js'
import type { BroadcastObserver, ServerStats } from './stats.js'
import type { WorkerGroup } from './worker-group.js'

/** What a publish reached (docs/protocol.md A.5, A.8). */
export interface Published {
  /** The publication as delivered: with its stream position on a history channel. */
  readonly pub: Publication
  /** Subscribers it was sent to: on this instance, plus those other instances reported when counted. */
  readonly delivered: number
  /** Instances it reached, this one included. */
  readonly instances: number
}

/** A server's lifecycle state. */
export type Lifecycle = 'idle' | 'starting' | 'running' | 'draining' | 'stopped'

/**
 * What HTTP routes, status views and plugins (metrics, MCP, event sources) see of a server: its
 * state, counters and the publish paths. WebSocketServer implements it; these modules import
 * this interface, never the server, so nothing calls back into the server's file.
 */
export interface ServerView {
  readonly name: string
  readonly instanceId: string
  readonly state: Lifecycle
  /** The bound port (after listen). */
  readonly port: number
  readonly settings: Settings
  readonly log: Logger
  readonly stats: ServerStats
  readonly broker: Broker
  readonly access: AccessPolicy
  /** At-least-once delivery of tracked events (docs/protocol.md A.8). */
  readonly delivery: Delivery
  /** Set by the metrics module to observe every broadcast. */
  broadcastObserver: BroadcastObserver | null
  readonly connectionCount: number
  readonly roomCount: number
  readonly channelSpecs: readonly CompiledChannel[]
  /** Which channels keep history (settings.history). */
  readonly history: HistoryChannels
  /** Seconds since the server object was created. */
  readonly uptime: number
  connections(): IterableIterator<Connection>
  /** Room name → local subscriber count. */
  roomCounts(): Record<string, number>
  /** The other workers when this server is one of several (`workers: N`), else null: the service is this server. */
  readonly workers: WorkerGroup | null
  /** The parts that report status of their own (sources, plugins, delivery); register into it. */
  readonly statusRegistry: StatusRegistry
  /**
   * Validates and publishes to every instance; `from` is a permission-checked connection or null
   * (trusted). Rejects with BROKER_UNAVAILABLE when a history channel's broker cannot store it.
   */
  publish(channel: unknown, event: unknown, data: unknown, from?: Connection | null, opts?: PublishOptions): Promise<Published>
  /** Validates and delivers to this instance's own subscribers only (sources every instance hears). */
  publishLocal(channel: unknown, event: unknown, data: unknown): { pub: Publication; delivered: number }
  /** One page (`limit`, `after`) of the members of a presence channel on every instance; throws INVALID_CHANNEL / PRESENCE_NOT_ENABLED / INVALID_PARAMS. */
  presenceOf(channel: unknown, page?: PresencePage): JsonObject
  /** Connections and distinct users of a presence channel on every instance; same errors. */
  presenceStatsOf(channel: unknown): JsonObject
  /** Every channel with subscribers anywhere in the cluster: count, and whether it keeps presence. */
  channelList(): { channel: string; subscribers: number; presence: boolean }[]
  /** Sends an event to one connection, wherever it lives. */
  sendTo(connectionId: string, event: string, data: JsonObject): Promise<DirectOutcome>
}
