import { z } from 'zod'

/**
 * Input and output schemas of the MCP tools (docs/protocol.md E). Shared by the HTTP server, the
 * stdio proxy and the CLI, so every transport lists and checks the same contract.
 */

const EmptyInputSchema = z.object({}).strict()
const JsonObjectSchema = z.record(z.string(), z.unknown())

export const BrokerSummarySchema = z.object({
  state: z.string(),
  kind: z.string(),
  instances: z.number().int(),
})

/** Each worker's own figures, with `workers: N > 1` (absent with one process). */
export const WorkersSchema = z
  .array(
    z.looseObject({
      id: z.number().int(),
      pid: z.number().int(),
      status: z.string(),
      instance_id: z.string().optional(),
      uptime: z.number().optional(),
      connections: z.number().int().optional(),
      rooms: z.number().int().optional(),
      deliveries: z.number().int().optional(),
      pending_deliveries: z.number().int().optional(),
      error: z.string().optional(),
    }),
  )
  .optional()
  .describe('With workers: each worker (id, pid, status, uptime, connections, rooms, deliveries, …); the other figures are the whole service')

export const StatusOutputSchema = z.object({
  service: z.string(),
  instance_id: z.string(),
  state: z.enum(['idle', 'starting', 'running', 'draining', 'stopped']),
  host: z.string(),
  port: z.number().int(),
  mcp_port: z.number().int(),
  connections: z.number().int(),
  rooms: z.number().int(),
  uptime: z.number(),
  bridge: BrokerSummarySchema,
  workers: WorkersSchema,
})

export const HealthOutputSchema = z.object({
  status: z.enum(['healthy', 'unhealthy', 'stopped']),
  service: z.string(),
  host: z.string(),
  port: z.number().int(),
  connections: z.number().int(),
  rooms: z.number().int(),
  max_connections: z.number().int(),
  message_rate_limit: z.number(),
  uptime: z.number(),
  bridge: BrokerSummarySchema,
  /** Event sources and their state, e.g. `{postgres: "listening"}`; absent from older servers. */
  sources: z.record(z.string(), z.string()).default({}),
  workers: WorkersSchema,
})

const RoomSchema = z.object({ room: z.string(), subscribers: z.number().int() })
export const ListRoomsOutputSchema = z.object({ rooms: z.array(RoomSchema), count: z.number().int() })

export const BroadcastTestInputSchema = z.object({
  event_type: z.string().min(1).describe('An event the service declares, e.g. workflow.started'),
  room: z.string().min(1).describe('The channel to broadcast to, e.g. workflow:w1'),
  data: JsonObjectSchema.default({}).describe('Event payload; `test: true` is added'),
})
export const PublishOutputSchema = z.object({
  id: z.string(),
  channel: z.string(),
  event: z.string(),
  delivered: z.number().int().describe('Subscribers the event was sent to, on every instance that answered within 1 s'),
  instances: z.number().int().describe('Instances the event reached, this one included'),
  offset: z.number().int().optional().describe('Its offset in the channel stream (history channels only)'),
  epoch: z.string().optional().describe('The epoch of that offset (history channels only)'),
})

const CountsSchema = z.record(z.string(), z.number())
export const MetricsOutputSchema = z.object({
  service: z.string(),
  uptime: z.number(),
  connections: z.object({ current: z.number().int(), total: z.number().int(), rejected_at_capacity: z.number().int(), rejected_per_ip: z.number().int().optional() }),
  rooms: z.number().int(),
  messages: z.object({ in: z.number().int(), out: z.number().int(), in_by_type: CountsSchema, out_by_type: CountsSchema }),
  broadcasts: z.number().int(),
  deliveries: z.number().int(),
  errors: CountsSchema,
  rate_limited: z.number().int(),
  slow_consumer_closes: z.number().int(),
  heartbeat_timeouts: z.number().int(),
  token_expired_closes: z.number().int().describe('Connections closed 4001 because their token expired unrefreshed'),
  bridge: z.object({
    state: z.string(),
    kind: z.string(),
    instances: z.number().int(),
    published: z.number().int(),
    received: z.number().int(),
    malformed: z.number().int(),
  }),
  /** Tracked deliveries (docs/protocol.md A.8). */
  delivery: z.object({
    tracked_events: z.array(z.string()),
    pending: z.number().int(),
    pending_bytes: z.number().int(),
    tracked: z.number().int(),
    acked: z.number().int(),
    resent: z.number().int(),
    failed: z.number().int(),
    overflow: z.number().int(),
    unknown_acks: z.number().int(),
    handed_over: z.number().int(),
    adopted: z.number().int(),
    durable: z.enum(['memory', 'redis', 'primary']),
  }),
  workers: WorkersSchema,
})

export const ListClientsInputSchema = z.object({
  limit: z.number().int().min(1).max(10_000).default(100).describe('Most clients to list (oldest first)'),
})
export const ListClientsOutputSchema = z.object({
  clients: z.array(
    z.object({
      id: z.string(),
      connected_since: z.string(),
      subscriptions: z.array(z.string()),
      remote_address: z.string(),
      authenticated: z.boolean(),
      user_id: z.string().nullable(),
      worker: z.number().int().optional().describe('The worker holding the connection (with workers)'),
    }),
  ),
  count: z.number().int().describe('Clients listed'),
  total: z.number().int().describe('Clients connected'),
})

export const ListChannelsOutputSchema = z.object({
  channels: z.array(
    z.object({
      channel: z.string(),
      subscribers: z.number().int().describe('Subscribers on every instance of the service'),
      presence: z.boolean().describe('Whether the channel keeps presence (ws_presence)'),
    }),
  ),
  count: z.number().int(),
  patterns: z.array(z.string()).describe('Channel patterns the service accepts'),
})

export const PresenceInputSchema = z.object({
  channel: z.string().min(1).describe('A channel that keeps presence (settings: presence), e.g. sessions/s1'),
})
export const PresenceListInputSchema = PresenceInputSchema.extend({
  limit: z.number().int().min(1).max(1000).optional().describe('Members per answer, at most 1000 (the default)'),
  after: z.string().optional().describe("The 'next' of a previous answer: the page after it"),
})
const PresenceMemberSchema = z.object({
  connection_id: z.string(),
  user_id: z.string().nullable().describe('The user (envelope) or agent (flat) id; null when anonymous'),
  session_id: z.string().nullable(),
  connected_at: z.string(),
  instance: z.string().describe('The instance holding the connection'),
})
export const PresenceStatsOutputSchema = z.object({
  channel: z.string(),
  clients: z.number().int().describe('Connections subscribed, on every instance'),
  users: z.number().int().describe('Distinct identified users among them'),
})
export const PresenceOutputSchema = PresenceStatsOutputSchema.extend({
  members: z.array(PresenceMemberSchema),
  count: z.number().int().describe('Members listed in this answer (at most limit)'),
  next: z.string().nullable().describe("Cursor of the next page (pass it as 'after'); null when this is the last"),
})

export const PublishInputSchema = z.object({
  channel: z.string().min(1).describe('e.g. workflow:w1'),
  event: z.string().min(1).describe('An event the service declares'),
  data: JsonObjectSchema.default({}).describe("Payload, checked against the event's schema"),
})

/** Every tool: name → whether it only reads, description and schemas. */
export const TOOL_SPECS = {
  websocket_status: {
    readOnly: true,
    description: 'Lifecycle state, address, connections, rooms, uptime and bridge of this service instance (all its workers, with a per-worker breakdown).',
    input: EmptyInputSchema,
    output: StatusOutputSchema,
  },
  websocket_health_check: {
    readOnly: true,
    description: 'Is the service serving? status healthy, unhealthy (running with a part down or a worker not answering) or stopped, with host, port, connections, rooms, limits and bridge state.',
    input: EmptyInputSchema,
    output: HealthOutputSchema,
  },
  websocket_list_rooms: {
    readOnly: true,
    description: 'Rooms (channels) with at least one subscriber on this instance (any of its workers), with subscriber counts.',
    input: EmptyInputSchema,
    output: ListRoomsOutputSchema,
  },
  websocket_broadcast_test_event: {
    readOnly: false,
    description: 'Broadcasts a declared event to a room with `test: true` added to its data, validated like any publish.',
    input: BroadcastTestInputSchema,
    output: PublishOutputSchema,
  },
  websocket_get_metrics: {
    readOnly: true,
    description: 'Counters since start: connections, messages in/out by type, broadcasts, deliveries, errors by code, rate limiting, slow consumers, bridge, tracked deliveries (pending, failed).',
    input: EmptyInputSchema,
    output: MetricsOutputSchema,
  },
  list_ws_clients: {
    readOnly: true,
    description: 'Connected clients: id, connected since, subscriptions, remote address, authenticated user.',
    input: ListClientsInputSchema,
    output: ListClientsOutputSchema,
  },
  list_ws_channels: {
    readOnly: true,
    description: 'Channels with subscribers on any instance of the service, with cluster-wide counts and whether each keeps presence, and the channel patterns the service accepts.',
    input: EmptyInputSchema,
    output: ListChannelsOutputSchema,
  },
  ws_presence: {
    readOnly: true,
    description: "Who is subscribed to a presence channel, on every instance: connection id, user or agent id, session, connected at, instance. At most 1000 members per answer ('limit'); 'next' pages on.",
    input: PresenceListInputSchema,
    output: PresenceOutputSchema,
  },
  ws_presence_stats: {
    readOnly: true,
    description: 'How many connections and distinct users a presence channel has, on every instance.',
    input: PresenceInputSchema,
    output: PresenceStatsOutputSchema,
  },
  ws_publish: {
    readOnly: false,
    description: 'Publishes an event to a channel on every instance, validated like POST /publish (channel, declared event, payload schema).',
    input: PublishInputSchema,
    output: PublishOutputSchema,
  },
} as const

export type ToolName = keyof typeof TOOL_SPECS
export const TOOL_NAMES = Object.keys(TOOL_SPECS) as ToolName[]
export type ToolInput<N extends ToolName> = z.output<(typeof TOOL_SPECS)[N]['input']>
export type ToolOutput<N extends ToolName> = z.output<(typeof TOOL_SPECS)[N]['output']>
