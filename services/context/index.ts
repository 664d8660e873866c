import { PostgresSource } from '../../src/sources/postgres-source.js'
import type { ChannelSpec } from '../../src/protocol/channels.js'
import type { Publication } from '../../src/protocol/messages.js'
import { type ServerOptions, WebSocketServer } from '../../src/server/websocket-server.js'
import type { ServiceHooks } from '../../src/server/service-hooks.js'
import type { Settings } from '../../src/config/settings.js'
import { createBroadcaster } from '../common/broadcaster.js'
import * as meta from './meta.js'
import { ContextCluster } from './context-cluster.js'
import { type ContextEvents, contextEvents, contextRoutes } from './events.js'
import { SubscriptionRestore } from './subscription-restore.js'

/** Channels whose publications also reach `global` subscribers (the seed's "global: all events"). */
const MIRRORED = /^(sessions|topics)\//

/** The context service's parts its hooks reach: set once the server is built, before any hook can run (hooks run on traffic, after listen). */
interface ContextParts {
  cluster?: ContextCluster
  restore?: SubscriptionRestore
  /** Publishes agent.connected / agent.disconnected on the agent's route (global). */
  agent?: (event: 'agent.connected' | 'agent.disconnected', agentId: string) => void
}

/** The agent whose private channel this is, or null. */
function agentOf(channel: string): string | null {
  return channel.startsWith(AGENT_CHANNEL) ? channel.slice(AGENT_CHANNEL.length) : null
}
const AGENT_CHANNEL = 'agents/'

/**
 * What the context service adds to the core: the metrics count every event, `global` mirrors
 * sessions and topics, and an agent's subscriptions follow it to its next connection. The
 * private `agents/{id}` channels need nothing here: the core's one private-channel rule covers them.
 */
function contextHooks(parts: ContextParts): ServiceHooks {
  return {
    onPublication: (pub: Publication) => parts.cluster?.metrics.count(pub.event),
    alsoDeliverTo: (pub: Publication) => (MIRRORED.test(pub.channel) ? ['global'] : []),
    // One agent per connection: a second auth as another agent is refused by the session (SessionAuth).
    onIdentify: (conn) => parts.restore?.identified(conn),
    onSubscribe: (conn, channel) => parts.restore?.changed(conn, channel, true),
    onUnsubscribe: (conn, channel) => parts.restore?.changed(conn, channel, false),
    onDisconnect: (conn) => parts.restore?.closed(conn),
    // Every identified connection holds its agents/{id} channel: the channel's first subscriber
    // anywhere in the cluster is the agent's first connection, its last the agent's last (told once
    // per cluster, on the presence leader).
    onOccupied: (channel) => {
      const id = agentOf(channel)
      if (id !== null) parts.agent?.('agent.connected', id)
    },
    onVacated: (channel) => {
      const id = agentOf(channel)
      if (id !== null) parts.agent?.('agent.disconnected', id)
    },
  }
}

/** The context service (the DCM context manager): tasks, agents, sessions, messages and live metrics, flat dialect. */
export class ContextServer extends WebSocketServer<ContextEvents> {
  static readonly defaultPort = meta.defaultPort
  static readonly channels: readonly ChannelSpec[] = meta.channels
  /** Events agents must not miss: delivered at least once (docs/protocol.md A.8). */
  static readonly trackedEvents: readonly string[] = meta.trackedEvents
  /** The service's own settings defaults (services/context/meta.ts). */
  static readonly defaults = meta.defaults
  /** The flat dialect with the HMAC token check (development: agent_id alone). */
  static readonly dialect = meta.dialect
  /** Typed in-process publishing: `server.broadcast.taskCreated({ task_id, session_id })`. */
  readonly broadcast = createBroadcaster(this, contextRoutes)
  readonly cluster: ContextCluster
  /** The PostgreSQL LISTEN/NOTIFY source, when `postgres.url` is set. */
  readonly postgres: PostgresSource | null
  /** Brings an agent's subscriptions to its next connection (emits `restored`). */
  readonly restore: SubscriptionRestore

  constructor(settings: Settings, options?: ServerOptions) {
    const parts: ContextParts = {}
    super(
      {
        name: 'context',
        welcome: 'Connected to the DCM context manager',
        channels: ContextServer.channels,
        events: contextEvents,
        dialect: ContextServer.dialect,
        autoSubscribe: ['global'],
        hooks: contextHooks(parts),
      },
      settings,
      options,
    )
    const inputs = {
      local: () => this.#figures(),
      // The same truth as agent.connected: agents/{id} channels with a subscriber anywhere in the cluster.
      activeAgents: () => {
        let n = 0
        for (const channel of this.broker.presence.channels().keys()) if (agentOf(channel) !== null) n++
        return n
      },
      publish: (snapshot: object) => {
        this.publish('metrics', 'metric.update', snapshot).catch((err: unknown) => this.log.warn({ err }, 'metric.update refused'))
      },
    }
    this.cluster = new ContextCluster(settings, this.name, this.instanceId, inputs, this.log.child({ part: 'context-state' }), this.workers?.state ?? null)
    this.restore = new SubscriptionRestore(this.cluster.restore, this, this.log)
    this.use(this.cluster)
    this.postgres = settings.postgres.url === null ? null : new PostgresSource(settings.postgres)
    if (this.postgres !== null) this.use(this.postgres)
    parts.cluster = this.cluster
    parts.restore = this.restore
    parts.agent = (event, agentId) => {
      this.publish('global', event, { agent_id: agentId }).catch((err: unknown) => this.log.warn({ err, event, agent_id: agentId }, 'agent event refused'))
    }
    if (settings.delivery.tracked.length === 0) {
      this.log.warn({ own: ContextServer.trackedEvents }, 'delivery.tracked is []: no event is tracked; task, subtask and message events are sent once, never re-sent')
    }
  }

  /** This instance's share of the metric.update snapshot. */
  #figures() {
    const agents = new Set<string>()
    const sessions = new Set<string>()
    for (const conn of this.connections()) {
      if (conn.identity !== null) agents.add(conn.identity.userId)
      if (conn.identity?.sessionId !== undefined) sessions.add(conn.identity.sessionId)
    }
    const delivery = this.delivery.stats()
    return { connected_clients: this.connectionCount, agents: [...agents], sessions: [...sessions], pending_deliveries: delivery.pending, failed_deliveries: delivery.failed }
  }
}

/** Builds the context server (services/catalog.ts loads this module only to run one). */
export function createContext(settings: Settings, options?: ServerOptions): ContextServer {
  return new ContextServer(settings, options)
}
