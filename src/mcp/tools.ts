import type { Published, ServerView } from '../server/server-view.js'
import { deliveryView, sourceStates, trafficView } from '../server/status-views.js'
import type { ToolInput, ToolName, ToolOutput } from './schemas.js'

/** What the tools read besides the server itself. */
export interface ToolContext {
  readonly server: ServerView
  /** The bound MCP HTTP port (0 before it binds). */
  readonly mcpPort: () => number
}

type Handlers = { [N in ToolName]: (ctx: ToolContext, input: ToolInput<N>) => ToolOutput<N> | Promise<ToolOutput<N>> }

/** What a publish tool answers: the event, where it reached, and its stream position on a history channel. */
function published({ pub, delivered, instances }: Published) {
  const position = pub.position === undefined ? {} : { offset: pub.position.offset, epoch: pub.position.epoch }
  return { id: pub.id, channel: pub.channel, event: pub.event, delivered, instances, ...position }
}

function bridgeSummary(server: ServerView) {
  const b = server.bridge.stats()
  return { state: b.state, kind: b.kind, instances: b.instances }
}

function rooms(server: ServerView): { name: string; subscribers: number }[] {
  return Object.entries(server.roomCounts())
    .map(([name, subscribers]) => ({ name, subscribers }))
    .sort((a, b) => a.name.localeCompare(b.name))
}

const seconds = (s: number) => Math.round(s * 1000) / 1000

/**
 * The tools run against the live server: every answer is read from its state and counters at
 * call time. Publishing goes through server.publish, the path POST /publish uses, so the same
 * channel, event and payload checks apply; a failed check throws an AppError.
 */
export const TOOL_HANDLERS: Handlers = {
  websocket_status: ({ server, mcpPort }) => ({
    service: server.name,
    instance_id: server.instanceId,
    state: server.state,
    host: server.settings.host,
    port: server.port,
    mcp_port: mcpPort(),
    connections: server.connectionCount,
    rooms: server.roomCount,
    uptime: seconds(server.uptime),
    bridge: bridgeSummary(server),
  }),

  websocket_health_check: ({ server }) => ({
    status: server.state === 'running' ? 'healthy' : 'stopped',
    service: server.name,
    host: server.settings.host,
    port: server.port,
    connections: server.connectionCount,
    rooms: server.roomCount,
    max_connections: server.settings.max_connections,
    message_rate_limit: server.settings.message_rate_limit,
    sources: sourceStates(server),
    uptime: seconds(server.uptime),
    bridge: bridgeSummary(server),
  }),

  websocket_list_rooms: ({ server }) => {
    const list = rooms(server).map((r) => ({ room: r.name, subscribers: r.subscribers }))
    return { rooms: list, count: list.length }
  },

  websocket_broadcast_test_event: async ({ server }, input) => published(await server.publish(input.room, input.event_type, { ...input.data, test: true }, null, { countRemote: true })),

  websocket_get_metrics: ({ server }) => {
    const s = server.stats
    const b = server.bridge.stats()
    return {
      service: server.name,
      uptime: seconds(server.uptime),
      connections: { current: server.connectionCount, total: s.connectionsTotal, rejected_at_capacity: s.rejectedAtCapacity },
      rooms: server.roomCount,
      ...trafficView(server),
      bridge: { state: b.state, kind: b.kind, instances: b.instances, published: b.published, received: b.received, malformed: b.malformed },
      delivery: deliveryView(server),
    }
  },

  list_ws_clients: ({ server }, input) => {
    const clients = []
    for (const c of server.connections()) {
      if (clients.length >= input.limit) break
      clients.push({
        id: c.id,
        connected_since: new Date(c.connectedAt).toISOString(),
        subscriptions: [...c.subscriptions],
        remote_address: c.remoteAddress,
        authenticated: c.identity !== null,
        user_id: c.identity?.userId ?? null,
      })
    }
    return { clients, count: clients.length, total: server.connectionCount }
  },

  list_ws_channels: ({ server }) => {
    const channels = rooms(server).map((r) => ({ channel: r.name, subscribers: r.subscribers }))
    return { channels, count: channels.length, patterns: server.channelSpecs.map((c) => c.spec.pattern) }
  },

  ws_publish: async ({ server }, input) => published(await server.publish(input.channel, input.event, input.data, null, { countRemote: true })),
}
