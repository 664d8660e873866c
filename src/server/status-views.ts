import type { JsonObject } from '../protocol/messages.js'
import type { ServerView } from './server-view.js'

/** Read-only views of a server for get_status, GET /health, /stats and /ws/info (docs/protocol.md E). */

const seconds = (s: number) => Math.round(s * 1000) / 1000
const statusWord = (server: ServerView) => (server.state === 'running' ? 'healthy' : server.state)

/** The service's own status (the get_status request). */
export function statusView(server: ServerView): JsonObject {
  return {
    service: server.name,
    status: statusWord(server),
    connections: server.connectionCount,
    channels: server.roomCount,
    uptime: seconds(server.uptime),
    bridge: server.bridge.state,
  }
}

/** GET /health. */
export function healthView(server: ServerView): JsonObject {
  return {
    status: statusWord(server),
    type: 'websocket',
    service: server.name,
    instance_id: server.instanceId,
    port: server.port,
    connectedClients: server.connectionCount,
    activeChannels: server.roomCount,
    channelStats: server.roomCounts(),
    uptime: seconds(server.uptime),
    timestamp: new Date().toISOString(),
    bridge: { ...server.bridge.stats() },
    ...server.pluginStatus(),
    sources: sourceStates(server),
  }
}

/** Event sources and their connection state (plugins reporting a `state`, e.g. `postgres: listening`). */
export function sourceStates(server: ServerView): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, status] of Object.entries(server.pluginStatus())) {
    const state = typeof status === 'object' && status !== null ? (status as { state?: unknown }).state : undefined
    if (typeof state === 'string') out[name] = state
  }
  return out
}

/** The traffic counters shared by GET /stats and the websocket_get_metrics tool. */
export function trafficView(server: ServerView) {
  const s = server.stats
  return {
    messages: { in: s.messagesIn, out: s.messagesOut, in_by_type: Object.fromEntries(s.inByType), out_by_type: Object.fromEntries(s.outByType) },
    broadcasts: s.broadcasts,
    deliveries: s.deliveries,
    errors: Object.fromEntries(s.errorsByCode),
    rate_limited: s.rateLimited,
    slow_consumer_closes: s.slowConsumerCloses,
    heartbeat_timeouts: s.heartbeatTimeouts,
  }
}

/** Tracked deliveries (docs/protocol.md A.8): what is pending, acknowledged, re-sent, failed. */
export function deliveryView(server: ServerView) {
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
  }
}

/** GET /stats: connections, channels, traffic, errors and limit counters. */
export function statsView(server: ServerView): JsonObject {
  const s = server.stats
  return {
    service: server.name,
    instance_id: server.instanceId,
    connections: { current: server.connectionCount, total: s.connectionsTotal, max: server.settings.max_connections, rejected_at_capacity: s.rejectedAtCapacity },
    channels: server.roomCounts(),
    ...trafficView(server),
    pending_deliveries: server.delivery.stats().pending,
    failed_deliveries: server.delivery.stats().failed,
    delivery: deliveryView(server),
    uptime: seconds(server.uptime),
    bridge: { ...server.bridge.stats() },
  }
}

/** GET /ws/info: every client with its subscriptions, and the channels. */
export function infoView(server: ServerView): JsonObject {
  return {
    service: server.name,
    clients: [...server.connections()].map((c) => ({
      id: c.id,
      connected_at: new Date(c.connectedAt).toISOString(),
      remote_address: c.remoteAddress,
      subscriptions: [...c.subscriptions],
      user_id: c.identity?.userId ?? null,
    })),
    channels: server.roomCounts(),
  }
}
