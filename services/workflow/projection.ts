import type { Publication } from '../../src/index.js'
import { BoundedMap } from '../../src/index.js'

interface WorkflowState {
  status: string
  stagesCompleted: number
  totalStages: number | null
  error: unknown
}

interface PoolState {
  status: string
  workers: number | null
}

/** What the workflow service remembers of its own events: bounded, newest kept. */
export class WorkflowProjection {
  readonly workflows: BoundedMap<string, WorkflowState>
  readonly pools: BoundedMap<string, PoolState>

  constructor(capacity = 10_000) {
    this.workflows = new BoundedMap(capacity)
    this.pools = new BoundedMap(capacity)
  }

  apply(pub: Publication): void {
    const d = pub.data
    switch (pub.event) {
      case 'workflow.started': {
        const total = typeof d.total_stages === 'number' ? d.total_stages : null
        this.workflows.set(String(d.workflow_id), { status: 'running', stagesCompleted: 0, totalStages: total, error: null })
        return
      }
      case 'workflow.stage_completed':
      case 'workflow.completed':
      case 'workflow.failed': {
        const key = String(d.workflow_id)
        const wf = this.workflows.get(key) ?? { status: 'running', stagesCompleted: 0, totalStages: null, error: null }
        if (pub.event === 'workflow.stage_completed') wf.stagesCompleted++
        if (pub.event === 'workflow.completed') wf.status = 'completed'
        if (pub.event === 'workflow.failed') {
          wf.status = 'failed'
          wf.error = d.error
        }
        this.workflows.set(key, wf)
        return
      }
      case 'pool.status_changed': {
        const workers = typeof d.workers === 'number' ? d.workers : Array.isArray(d.workers) ? d.workers.length : null
        this.pools.set(String(d.pool_id), { status: String(d.status), workers })
      }
    }
  }
}
