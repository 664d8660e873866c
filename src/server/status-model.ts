import type { BrokerStats } from '../broker/broker.js'
import { type CompiledChannel, matchChannel } from '../protocol/channels.js'
import type { JsonObject } from '../protocol/messages.js'
import type { Lifecycle, ServerView } from './server-view.js'
export { type StatusContributor, StatusRegistry } from './status-registry.js'

/**
 * The one status model of a server (docs/protocol.md E): a snapshot read at once, and the
 * views of it that GET /health, /stats, /ws/info, get_status, the MCP tools and `roomcast
 * status` answer. A part that has state of its own (an event source, the delivery tracker, the
 * broker, a plugin) registers a contributor; its figures appear under its name, and it may make
 * the service unhealthy.
 */

/** Seconds, rounded to the millisecond: the one way every view states a duration. */
export const seconds = (s: number): number => Math.round(s * 1000) / 1000

export interface TrafficFigures {
  readonly messages: { in: number; out: number; in_by_type: Record<string, number>; out_by_type: Record<string, number> }
  readonly broadcasts: number
  readonly deliveries: number
  readonly errors: Record<string, number>
  readonly rate_limited: number
  readonly slow_consumer_closes: number
  readonly heartbeat_timeouts: number
  readonly token_expired_closes: number
}

/** Everything the views show, read at one moment. */
export interface StatusSnapshot {
  readonly service: string
  readonly instanceId: string
  readonly state: Lifecycle
  /** The one rule: running, and no contributor says otherwise. */
  readonly healthy: boolean
  readonly host: string
  readonly port: number
  readonly uptime: number
  readonly connections: {
    readonly current: number
    readonly total: number
    readonly max: number
    readonly rejectedAtCapacity: number
    /** Upgrades answered 429 (max_connections_per_ip). */
    readonly rejectedPerIp: number
  }
  readonly messageRateLimit: number
  /** Room → local subscribers. */
  readonly channels: Record<string, number>
  readonly roomCount: number
  readonly traffic: TrafficFigures
  readonly broker: BrokerStats
  /** Tracked deliveries (docs/protocol.md A.8): what is pending, acknowledged, re-sent, failed. */
  readonly delivery: DeliveryFigures
  /** Contributor name → its figures. */
  readonly parts: Record<string, JsonObject>
  /** Event sources and their connection state: the contributors reporting a `state`, e.g. `postgres: listening`. */
  readonly sources: Record<string, string>
  /** With `workers: N > 1`: the figures above are the whole service's, and these each worker's (status-merge.ts). */
  readonly workers?: readonly WorkerStatus[]
}

/** One worker's own snapshot, or why it gave none (it did not answer in time). */
export interface WorkerStatus {
  readonly id: number
  readonly pid: number
  readonly snapshot: StatusSnapshot | null
  readonly error?: string
}

function traffic(server: ServerView): TrafficFigures {
  const s = server.stats
  return {
    messages: { in: s.messagesIn, out: s.messagesOut, in_by_type: Object.fromEntries(s.inByType), out_by_type: Object.fromEntries(s.outByType) },
    broadcasts: s.broadcasts,
    deliveries: s.deliveries,
    errors: Object.fromEntries(s.errorsByCode),
    rate_limited: s.rateLimited,
    slow_consumer_closes: s.slowConsumerCloses,
    heartbeat_timeouts: s.heartbeatTimeouts,
    token_expired_closes: s.tokenExpiredCloses,
  }
}

export interface DeliveryFigures {
  readonly tracked_events: string[]
  readonly pending: number
  readonly pending_bytes: number
  readonly tracked: number
  readonly acked: number
  readonly resent: number
  readonly failed: number
  readonly overflow: number
  readonly unknown_acks: number
  readonly handed_over: number
  readonly adopted: number
  /** Where pending events are recorded besides this process: `redis` (they outlive it) or `memory` (they do not). */
  readonly durable: 'memory' | 'redis' | 'primary'
}

function delivery(server: ServerView): DeliveryFigures {
  const d = server.delivery.stats()
  return {
    tracked_events: server.delivery.trackedEvents,
    pending: d.pending,
    pending_bytes: d.pendingBytes,
    tracked: d.tracked,
    acked: d.acked,
    resent: d.resent,
    failed: d.failed,
    overflow: d.overflow,
    unknown_acks: d.unknownAcks,
    handed_over: d.handedOver,
    adopted: d.adopted,
    durable: server.delivery.durable,
  }
}

/** Reads a server's status once. */
export function snapshot(server: ServerView): StatusSnapshot {
  const parts: Record<string, JsonObject> = {}
  const sources: Record<string, string> = {}
  let healthy = server.state === 'running'
  for (const part of server.statusRegistry.parts()) {
    const figures = part.status()
    parts[part.name] = figures
    if (typeof figures.state === 'string') sources[part.name] = figures.state
    if (part.healthy !== undefined && !part.healthy()) healthy = false
  }
  return {
    service: server.name,
    instanceId: server.instanceId,
    state: server.state,
    healthy,
    host: server.settings.host,
    port: server.port,
    uptime: seconds(server.uptime),
    connections: {
      current: server.connectionCount,
      total: server.stats.connectionsTotal,
      max: server.settings.max_connections,
      rejectedAtCapacity: server.stats.rejectedAtCapacity,
      rejectedPerIp: server.stats.rejectedPerIp,
    },
    messageRateLimit: server.settings.message_rate_limit,
    channels: server.roomCounts(),
    roomCount: server.roomCount,
    traffic: traffic(server),
    broker: server.broker.stats(),
    delivery: delivery(server),
    parts,
    sources,
  }
}

/** `healthy`, else the lifecycle state (`unhealthy` when running with a part down). */
export function statusWord(s: StatusSnapshot): string {
  if (s.healthy) return 'healthy'
  return s.state === 'running' ? 'unhealthy' : s.state
}

/** One worker in the breakdown: its own figures, or why it gave none. */
export type WorkerRow =
  | { id: number; pid: number; status: 'unreachable'; error: string }
  | {
      id: number
      pid: number
      instance_id: string
      status: string
      uptime: number
      connections: number
      connections_total: number
      rooms: number
      messages_in: number
      messages_out: number
      broadcasts: number
      deliveries: number
      pending_deliveries: number
      failed_deliveries: number
    }

/** The per-worker breakdown of a service with workers: each worker's own figures (absent with one process). */
export function workersView(s: StatusSnapshot): { workers?: WorkerRow[] } {
  if (s.workers === undefined) return {}
  return {
    workers: s.workers.map(({ id, pid, snapshot: w, error }) => {
      if (w === null) return { id, pid, status: 'unreachable', error: error ?? 'no answer' }
      return {
        id,
        pid,
        instance_id: w.instanceId,
        status: statusWord(w),
        uptime: w.uptime,
        connections: w.connections.current,
        connections_total: w.connections.total,
        rooms: w.roomCount,
        messages_in: w.traffic.messages.in,
        messages_out: w.traffic.messages.out,
        broadcasts: w.traffic.broadcasts,
        deliveries: w.traffic.deliveries,
        pending_deliveries: w.delivery.pending,
        failed_deliveries: w.delivery.failed,
      }
    }),
  }
}

/** The service's own status (the get_status request). */
export function statusView(s: StatusSnapshot): JsonObject {
  return { service: s.service, status: statusWord(s), connections: s.connections.current, channels: s.roomCount, uptime: s.uptime, bridge: s.broker.state, ...workersView(s) }
}

/**
 * Subscribers per channel pattern, each parameter written `*` (`agents/*`): what a caller without
 * credentials may see. A parameter may name an agent, a user or a session, and the service's rules
 * cannot tell which, so every parameterised channel is summed under its pattern; a room no pattern
 * matches counts under `*`.
 */
export function channelsByPattern(channels: Record<string, number>, patterns: readonly CompiledChannel[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [channel, n] of Object.entries(channels)) {
    const pattern = matchChannel(patterns, channel)?.spec.pattern.replace(/\{[^}]*\}/g, '*') ?? '*'
    out[pattern] = (out[pattern] ?? 0) + n
  }
  return out
}

/**
 * GET /health (200 when healthy, else 503). `byPattern` (the service's channels) when the caller
 * showed no credentials: `channelStats` then names patterns, never a channel (docs/http.md).
 */
export function healthView(s: StatusSnapshot, byPattern: readonly CompiledChannel[] | null = null): JsonObject {
  return {
    status: statusWord(s),
    type: 'websocket',
    service: s.service,
    instance_id: s.instanceId,
    port: s.port,
    connectedClients: s.connections.current,
    activeChannels: s.roomCount,
    channelStats: byPattern === null ? s.channels : channelsByPattern(s.channels, byPattern),
    uptime: s.uptime,
    timestamp: new Date().toISOString(),
    bridge: { ...s.broker },
    ...s.parts,
    sources: s.sources,
    ...workersView(s),
  }
}

/** GET /stats: connections, channels, traffic, errors and limit counters. */
export function statsView(s: StatusSnapshot): JsonObject {
  const c = s.connections
  return {
    service: s.service,
    instance_id: s.instanceId,
    connections: { current: c.current, total: c.total, max: c.max, rejected_at_capacity: c.rejectedAtCapacity, rejected_per_ip: c.rejectedPerIp },
    channels: s.channels,
    ...s.traffic,
    pending_deliveries: s.delivery.pending,
    failed_deliveries: s.delivery.failed,
    delivery: s.delivery,
    uptime: s.uptime,
    bridge: { ...s.broker },
    ...s.parts,
    ...workersView(s),
  }
}

/** One connected client, as /ws/info and list_ws_clients show it. */
export interface ClientRow {
  readonly id: string
  readonly connected_at: string
  readonly remote_address: string
  readonly subscriptions: string[]
  readonly user_id: string | null
  readonly authenticated: boolean
  /** The worker holding the connection (with `workers: N > 1`). */
  readonly worker?: number
}

/** The clients of a server (or, merged, of every worker), oldest first, and the channels' subscriber counts. */
export interface ClientsSnapshot {
  readonly service: string
  readonly clients: readonly ClientRow[]
  readonly channels: Record<string, number>
  /** With workers: each worker's client count, or why it gave none. */
  readonly workers?: readonly { id: number; pid: number; clients: number | null; error?: string }[]
}

/** This server's own clients. */
export function clientsSnapshot(server: ServerView): ClientsSnapshot {
  return {
    service: server.name,
    clients: [...server.connections()].map((c) => ({
      id: c.id,
      connected_at: new Date(c.connectedAt).toISOString(),
      remote_address: c.remoteAddress,
      subscriptions: c.subscriptionCount === 0 ? [] : [...c.subscriptions],
      user_id: c.identity?.userId ?? null,
      authenticated: c.identity !== null,
    })),
    channels: server.roomCounts(),
  }
}

/** GET /ws/info: every client with its subscriptions (and its worker), and the channels. */
export function infoView(c: ClientsSnapshot): JsonObject {
  return {
    service: c.service,
    clients: c.clients.map(({ authenticated: _, ...row }) => row),
    channels: c.channels,
    ...(c.workers === undefined ? {} : { workers: c.workers.map((w) => ({ ...w })) }),
  }
}

/** The broker as the MCP tools summarise it (their `bridge` field). */
export function brokerSummary(s: StatusSnapshot) {
  return { state: s.broker.state, kind: s.broker.kind, instances: s.broker.instances, ...(s.broker.cluster !== undefined ? { cluster: s.broker.cluster } : {}) }
}
