import { z } from 'zod'
import { type ServerOptions, type Settings, WebSocketServer } from '../../src/index.js'
import { type WorkflowEvents, workflowEvents } from './events.js'
import { WorkflowProjection } from './projection.js'

/** The workflow service (replaces mahavishnu): workflows, pools, workers, goal teams, adapters. */
export class WorkflowServer extends WebSocketServer<WorkflowEvents> {
  static readonly service = 'workflow'
  static readonly defaultPort = 8690
  readonly projection = new WorkflowProjection()

  constructor(settings: Settings, options?: ServerOptions) {
    super(
      {
        name: 'workflow',
        welcome: 'Connected to Mahavishnu orchestration',
        channels: [
          { pattern: 'workflow:{id}' },
          { pattern: 'pool:{id}' },
          { pattern: 'worker:{id}' },
          { pattern: 'goal-teams' },
          { pattern: 'goal-teams:{user}', privateTo: 'user' },
          { pattern: 'adapters' },
          { pattern: 'code' },
          { pattern: 'global' },
        ],
        events: workflowEvents,
      },
      settings,
      options,
    )
    this.requests
      .register('get_workflow_status', z.object({ workflow_id: z.string().min(1) }), ({ workflow_id }) => {
        const wf = this.projection.workflows.get(workflow_id)
        if (wf === undefined) return { workflow_id, status: 'not_found' }
        return {
          workflow_id,
          status: wf.status,
          stages_completed: wf.stagesCompleted,
          total_stages: wf.totalStages,
          ...(wf.status === 'failed' ? { error: wf.error ?? null } : {}),
        }
      })
      .register('get_pool_status', z.object({ pool_id: z.string().min(1) }), ({ pool_id }) => {
        const pool = this.projection.pools.get(pool_id)
        if (pool === undefined) return { pool_id, status: 'not_found' }
        return { pool_id, status: pool.status, workers: pool.workers }
      })
  }

  protected override onPublication(pub: Parameters<WebSocketServer['deliver']>[0]): void {
    this.projection.apply(pub)
  }
}
