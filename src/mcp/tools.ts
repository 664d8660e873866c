import type { Published, ServerView } from '../server/server-view.js'
import { brokerSummary, snapshot } from '../server/status-model.js'
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

function rooms(server: ServerView): { name: string; subscribers: number }[] {
  return Object.entries(server.roomCounts())
    .map(([name, subscribers]) => ({ name, subscribers }))
    .sort((a, b) => a.name.localeCompare(b.name))
}

/**
 * The tools run against the live server: every status answer is a view of its status model
 * (server/status-model.ts), read at call time. Publishing goes through server.publish, the path
 * POST /publish uses, so the same channel, event and payload checks apply; a failed check throws
 * an AppError.
 */
export const TOOL_HANDLERS: Handlers = {
  websocket_status: ({ server, mcpPort }) => {
    const s = snapshot(server)
    return {
      service: s.service,
      instance_id: s.instanceId,
      state: s.state,
      host: s.host,
      port: s.port,
      mcp_port: mcpPort(),
      connections: s.connections.current,
      rooms: s.roomCount,
      uptime: s.uptime,
      bridge: brokerSummary(s),
    }
  },

  websocket_health_check: ({ server }) => {
    const s = snapshot(server)
    return {
      status: s.healthy ? 'healthy' : 'stopped',
      service: s.service,
      host: s.host,
      port: s.port,
      connections: s.connections.current,
      rooms: s.roomCount,
      max_connections: s.connections.max,
      message_rate_limit: s.messageRateLimit,
      sources: s.sources,
      uptime: s.uptime,
      bridge: brokerSummary(s),
    }
  },

  websocket_list_rooms: ({ server }) => {
    const list = rooms(server).map((r) => ({ room: r.name, subscribers: r.subscribers }))
    return { rooms: list, count: list.length }
  },

  websocket_broadcast_test_event: async ({ server }, input) => published(await server.publish(input.room, input.event_type, { ...input.data, test: true }, null, { countRemote: true })),

  websocket_get_metrics: ({ server }) => {
    const s = snapshot(server)
    const b = s.broker
    return {
      service: s.service,
      uptime: s.uptime,
      connections: { current: s.connections.current, total: s.connections.total, rejected_at_capacity: s.connections.rejectedAtCapacity },
      rooms: s.roomCount,
      ...s.traffic,
      bridge: { state: b.state, kind: b.kind, instances: b.instances, published: b.published, received: b.received, malformed: b.malformed },
      delivery: s.delivery,
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
