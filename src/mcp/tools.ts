import type { Published, ServerView } from '../server/server-view.js'
import { serviceClients, serviceSnapshot } from '../server/service-status.js'
import { brokerSummary, type StatusSnapshot, workersView } from '../server/status-model.js'
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

function rooms(s: StatusSnapshot): { name: string; subscribers: number }[] {
  return Object.entries(s.channels)
    .map(([name, subscribers]) => ({ name, subscribers }))
    .sort((a, b) => a.name.localeCompare(b.name))
}

/**
 * The tools run against the live server: every status answer is a view of its status model
 * (server/status-model.ts), read at call time, for the whole service (every worker's, merged,
 * with a per-worker breakdown, when it runs workers). Publishing goes through server.publish, the path
 * POST /publish uses, so the same channel, event and payload checks apply; a failed check throws
 * an AppError.
 */
export const TOOL_HANDLERS: Handlers = {
  websocket_status: async ({ server, mcpPort }) => {
    const s = await serviceSnapshot(server)
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
      ...workersView(s),
    }
  },

  websocket_health_check: async ({ server }) => {
    const s = await serviceSnapshot(server)
    return {
      // Running with a part down or a worker that does not answer is unhealthy; anything else not running, stopped.
      status: s.healthy ? 'healthy' : s.state === 'running' ? 'unhealthy' : 'stopped',
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
      ...workersView(s),
    }
  },

  websocket_list_rooms: async ({ server }) => {
    const list = rooms(await serviceSnapshot(server)).map((r) => ({ room: r.name, subscribers: r.subscribers }))
    return { rooms: list, count: list.length }
  },

  websocket_broadcast_test_event: async ({ server }, input) => published(await server.publish(input.room, input.event_type, { ...input.data, test: true }, null, { countRemote: true })),

  websocket_get_metrics: async ({ server }) => {
    const s = await serviceSnapshot(server)
    const b = s.broker
    return {
      service: s.service,
      uptime: s.uptime,
      connections: { current: s.connections.current, total: s.connections.total, rejected_at_capacity: s.connections.rejectedAtCapacity },
      rooms: s.roomCount,
      ...s.traffic,
      bridge: { state: b.state, kind: b.kind, instances: b.instances, published: b.published, received: b.received, malformed: b.malformed },
      delivery: s.delivery,
      ...workersView(s),
    }
  },

  list_ws_clients: async ({ server }, input) => {
    const all = await serviceClients(server)
    const clients = all.clients.slice(0, input.limit).map((c) => ({
      id: c.id,
      connected_since: c.connected_at,
      subscriptions: c.subscriptions,
      remote_address: c.remote_address,
      authenticated: c.authenticated,
      user_id: c.user_id,
      ...(c.worker !== undefined ? { worker: c.worker } : {}),
    }))
    return { clients, count: clients.length, total: all.clients.length }
  },

  list_ws_channels: ({ server }) => {
    const channels = server.channelList()
    return { channels, count: channels.length, patterns: server.channelSpecs.map((c) => c.spec.pattern) }
  },

  ws_presence: ({ server }, input) => server.presenceOf(input.channel, { limit: input.limit, after: input.after }) as ToolOutput<'ws_presence'>,

  ws_presence_stats: ({ server }, input) => server.presenceStatsOf(input.channel) as ToolOutput<'ws_presence_stats'>,

  ws_publish: async ({ server }, input) => published(await server.publish(input.channel, input.event, input.data, null, { countRemote: true })),
}
