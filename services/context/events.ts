import { z } from 'zod'
import type { EventRoutes } from '../common/broadcaster.js'

const id = z.string().min(1).max(200)
const count = z.number().int().nonnegative()
const present = z.unknown().refine((v) => v !== undefined, 'Required')
/** Where an event is scoped, when the producer says; the in-process routes read it. */
const scope = { agent_id: id.optional(), session_id: id.optional() }

const task = z.looseObject({ task_id: id, status: z.string().min(1).optional(), ...scope })
const subtask = z.looseObject({ subtask_id: id, task_id: id.optional(), status: z.string().min(1).optional(), ...scope })
const messageRef = z.looseObject({ message_id: id, ...scope })
const agent = z.looseObject({ agent_id: id, session_id: id.optional() })
const session = z.looseObject({ session_id: id, agent_id: id.optional() })
const notice = z.looseObject({ message: z.string().min(1), ...scope })

/** `metric.update`: one cluster-wide snapshot (docs/protocol.md B). */
export const MetricSnapshotSchema = z.looseObject({
  active_sessions: count,
  active_agents: count,
  connected_clients: count,
  actions_per_minute: count,
  events_per_minute: z.record(z.string(), count),
  pending_deliveries: count,
  failed_deliveries: count,
  instances: count,
  timestamp: z.string().min(1),
})

/**
 * Payload schemas of the context service's events (the DCM context manager, seeds 002/004).
 * Fields the seeds show are required (task_id, content, …); extra fields pass through.
 */
export const contextEvents = {
  'task.created': task,
  'task.updated': task,
  'task.completed': task,
  'task.failed': task.extend({ error: present.optional() }),
  'subtask.created': subtask,
  'subtask.updated': subtask,
  'subtask.completed': subtask,
  'subtask.failed': subtask,
  'subtask.running': subtask,
  'message.new': z.looseObject({ content: present, message_id: id.optional(), from: id.optional(), to: id.optional(), ...scope }),
  'message.read': messageRef,
  'message.expired': messageRef,
  'agent.connected': agent,
  'agent.disconnected': agent,
  'agent.heartbeat': agent,
  'agent.blocked': agent.extend({ reason: z.string().optional() }),
  'agent.unblocked': agent,
  'session.created': session,
  'session.ended': session,
  'metric.update': MetricSnapshotSchema,
  'system.error': notice,
  'system.info': notice,
} as const

export type ContextEvents = typeof contextEvents

/** The event families `events_per_minute` counts by (the part before the dot). */
export const EVENT_FAMILIES = ['task', 'subtask', 'message', 'agent', 'session', 'metric', 'system'] as const

/** A session's channel when the payload names one, else `global`. */
const scoped = (d: { session_id?: string | undefined }) => (d.session_id !== undefined ? `sessions/${d.session_id}` : 'global')
/** A message goes to its recipient's private channel when it names one. */
const toRecipient = (d: { to?: string | undefined; session_id?: string | undefined }) => (d.to !== undefined ? `agents/${d.to}` : scoped(d))
const toAgent = (d: { agent_id: string }) => `agents/${d.agent_id}`

/** The channel each event goes to when in-process code broadcasts it. */
export const contextRoutes: EventRoutes<ContextEvents> = {
  'task.created': scoped,
  'task.updated': scoped,
  'task.completed': scoped,
  'task.failed': scoped,
  'subtask.created': scoped,
  'subtask.updated': scoped,
  'subtask.completed': scoped,
  'subtask.failed': scoped,
  'subtask.running': scoped,
  'message.new': toRecipient,
  'message.read': scoped,
  'message.expired': scoped,
  'agent.connected': () => 'global',
  'agent.disconnected': () => 'global',
  'agent.heartbeat': () => 'global',
  'agent.blocked': toAgent,
  'agent.unblocked': toAgent,
  'session.created': (d) => `sessions/${d.session_id}`,
  'session.ended': (d) => `sessions/${d.session_id}`,
  'metric.update': () => 'metrics',
  'system.error': () => 'global',
  'system.info': () => 'global',
}
