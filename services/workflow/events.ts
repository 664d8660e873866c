import { z } from 'zod'
import type { EventRoutes } from '../common/broadcaster.js'

const id = z.string().min(1)
const present = z.unknown().refine((v) => v !== undefined, 'Required')

/** Payload schemas of the workflow service's events (docs/protocol.md C). Extra fields pass through. */
export const workflowEvents = {
  'workflow.started': z.looseObject({ workflow_id: id, total_stages: z.number().int().nonnegative().optional() }),
  'workflow.stage_completed': z.looseObject({ workflow_id: id, stage_name: z.string().min(1) }),
  'workflow.completed': z.looseObject({ workflow_id: id }),
  'workflow.failed': z.looseObject({ workflow_id: id, error: present }),
  'worker.status_changed': z.looseObject({ worker_id: id, status: z.string().min(1) }),
  'pool.status_changed': z.looseObject({ pool_id: id, status: z.string().min(1) }),
  'team.created': z.looseObject({ team_id: id }),
  'team.parsed': z.looseObject({ team_id: id }),
  'team.execution_started': z.looseObject({ team_id: id }),
  'team.execution_completed': z.looseObject({ team_id: id }),
  'team.error': z.looseObject({ team_id: id }),
  'adapter.registered': z.looseObject({ adapter_id: id }),
  'adapter.health_changed': z.looseObject({ adapter_id: id }),
  'adapter.enabled': z.looseObject({ adapter_id: id }),
  'adapter.disabled': z.looseObject({ adapter_id: id }),
  'adapter.routing_decision': z.looseObject({ adapter_id: id }),
  'task.assigned': z.looseObject({ task_id: id }),
} as const

export type WorkflowEvents = typeof workflowEvents

const toWorkflow = (d: { workflow_id: string }) => `workflow:${d.workflow_id}`

/** The channel each event goes to when in-process code broadcasts it. */
export const workflowRoutes: EventRoutes<WorkflowEvents> = {
  'workflow.started': toWorkflow,
  'workflow.stage_completed': toWorkflow,
  'workflow.completed': toWorkflow,
  'workflow.failed': toWorkflow,
  'worker.status_changed': (d) => `worker:${d.worker_id}`,
  'pool.status_changed': (d) => `pool:${d.pool_id}`,
  'team.created': () => 'goal-teams',
  'team.parsed': () => 'goal-teams',
  'team.execution_started': () => 'goal-teams',
  'team.execution_completed': () => 'goal-teams',
  'team.error': () => 'goal-teams',
  'adapter.registered': () => 'adapters',
  'adapter.health_changed': () => 'adapters',
  'adapter.enabled': () => 'adapters',
  'adapter.disabled': () => 'adapters',
  'adapter.routing_decision': () => 'adapters',
  'task.assigned': () => 'global',
}
