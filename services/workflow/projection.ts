import type { JsonObject, Publication } from '../../src/index.js'
import { BoundedMap } from '../../src/util/bounded-map.js'

interface WorkflowState {
  status: string
  stagesCompleted: number
  totalStages: number | null
  lastStage: string | null
  error: unknown
}

interface PoolState {
  status: string
  /** Worker count the pool reported, or null when it reported none. */
  workers: number | null
}

interface WorkerState {
  status: string
  poolId: string | null
}

const newWorkflow = (): WorkflowState => ({ status: 'running', stagesCompleted: 0, totalStages: null, lastStage: null, error: null })

/** What the workflow service remembers of its own events: bounded, least recently updated evicted first. */
export class WorkflowProjection {
  readonly workflows: BoundedMap<string, WorkflowState>
  readonly pools: BoundedMap<string, PoolState>
  readonly workers: BoundedMap<string, WorkerState>

  constructor(capacity = 10_000) {
    this.workflows = new BoundedMap(capacity)
    this.pools = new BoundedMap(capacity)
    this.workers = new BoundedMap(capacity)
  }

  /** Folds one delivered event into the state. Payloads were validated by the event schemas. */
  apply(pub: Publication): void {
    const d = pub.data
    if (pub.event.startsWith('workflow.')) return this.#applyWorkflow(pub.event, String(d.workflow_id), d)
    if (pub.event === 'pool.status_changed') {
      const workers = typeof d.workers === 'number' ? d.workers : Array.isArray(d.workers) ? d.workers.length : null
      this.pools.set(String(d.pool_id), { status: String(d.status), workers })
    }
    if (pub.event === 'worker.status_changed') {
      const poolId = typeof d.pool_id === 'string' ? d.pool_id : null
      this.workers.set(String(d.worker_id), { status: String(d.status), poolId })
    }
  }

  #applyWorkflow(event: string, key: string, d: JsonObject): void {
    if (event === 'workflow.started') {
      const wf = newWorkflow()
      wf.totalStages = typeof d.total_stages === 'number' ? d.total_stages : null
      this.workflows.set(key, wf)
      return
    }
    // Events for a workflow whose start this instance never saw still count.
    const wf = this.workflows.get(key) ?? newWorkflow()
    if (event === 'workflow.stage_completed') {
      wf.stagesCompleted++
      wf.lastStage = String(d.stage_name)
    } else if (event === 'workflow.completed') {
      wf.status = 'completed'
    } else if (event === 'workflow.failed') {
      wf.status = 'failed'
      wf.error = d.error
    }
    this.workflows.set(key, wf)
  }

  /** The answer of get_workflow_status, or undefined for a workflow never seen. */
  workflowStatus(id: string): JsonObject | undefined {
    const wf = this.workflows.get(id)
    if (wf === undefined) return undefined
    return {
      workflow_id: id,
      status: wf.status,
      stages_completed: wf.stagesCompleted,
      total_stages: wf.totalStages,
      last_stage: wf.lastStage,
      ...(wf.status === 'failed' ? { error: wf.error ?? null } : {}),
    }
  }

  /** The answer of get_pool_status; `workers` falls back to the workers seen reporting this pool. */
  poolStatus(id: string): JsonObject | undefined {
    const pool = this.pools.get(id)
    if (pool === undefined) return undefined
    let workers = pool.workers
    if (workers === null) {
      workers = 0
      for (const [, w] of this.workers.entries()) if (w.poolId === id) workers++
    }
    return { pool_id: id, status: pool.status, workers }
  }
}
