import { afterEach, describe, expect, it } from 'vitest'
import type { WorkflowServer } from '../../services/workflow/index.js'
import { signToken } from '../../src/auth/jwt.js'
import { TestClient } from '../helpers/client.js'
import type { EventCase } from '../helpers/events.js'
import { envelopeServiceSuite } from '../helpers/service-suite.js'
import { startService, type Started } from '../helpers/server.js'

const CASES: EventCase[] = [
  { event: 'workflow.started', channel: 'workflow:w1', data: { workflow_id: 'w1', total_stages: 3 } },
  { event: 'workflow.stage_completed', channel: 'workflow:w1', data: { workflow_id: 'w1', stage_name: 'build' } },
  { event: 'workflow.completed', channel: 'workflow:w1', data: { workflow_id: 'w1', result: { ok: true } } },
  { event: 'workflow.failed', channel: 'workflow:w1', data: { workflow_id: 'w1', error: 'boom' } },
  { event: 'worker.status_changed', channel: 'worker:k1', data: { worker_id: 'k1', status: 'busy' } },
  { event: 'pool.status_changed', channel: 'pool:p1', data: { pool_id: 'p1', status: 'scaling' } },
  { event: 'team.created', channel: 'goal-teams', data: { team_id: 't1' } },
  { event: 'team.parsed', channel: 'goal-teams', data: { team_id: 't1' } },
  { event: 'team.execution_started', channel: 'goal-teams', data: { team_id: 't1' } },
  { event: 'team.execution_completed', channel: 'goal-teams', data: { team_id: 't1' } },
  { event: 'team.error', channel: 'goal-teams', data: { team_id: 't1', error: 'x' } },
  { event: 'adapter.registered', channel: 'adapters', data: { adapter_id: 'a1' } },
  { event: 'adapter.health_changed', channel: 'adapters', data: { adapter_id: 'a1', healthy: false } },
  { event: 'adapter.enabled', channel: 'adapters', data: { adapter_id: 'a1' } },
  { event: 'adapter.disabled', channel: 'adapters', data: { adapter_id: 'a1' } },
  { event: 'adapter.routing_decision', channel: 'adapters', data: { adapter_id: 'a1' } },
  { event: 'task.assigned', channel: 'global', data: { task_id: 'x1' } },
]

describe('workflow service', () => {
  const t = envelopeServiceSuite<WorkflowServer>('workflow', {
    welcome: 'Connected to Mahavishnu orchestration',
    cases: CASES,
    invalid: [
      { channel: 'workflow:w1', event: 'workflow.stage_completed', data: { workflow_id: 'w1' }, names: /stage_name/ },
      { channel: 'workflow:w1', event: 'workflow.failed', data: { workflow_id: 'w1' }, names: /'error'/ },
      { channel: 'pool:p1', event: 'pool.status_changed', data: { pool_id: 'p1', status: 3 }, names: /'status'/ },
    ],
  })

  it('types its broadcaster: a missing required field does not compile and throws', () => {
    // @ts-expect-error stage_name is required
    expect(() => t.server.broadcast.workflowStageCompleted({ workflow_id: 'w1' })).toThrow(/stage_name/)
  })

  it('answers get_workflow_status from started → stage_completed → failed', async () => {
    t.server.broadcast.workflowStarted({ workflow_id: 'w9', total_stages: 4 })
    t.server.broadcast.workflowStageCompleted({ workflow_id: 'w9', stage_name: 'lint' })
    await t.client.request('publish', { channel: 'workflow:w9', event: 'workflow.failed', data: { workflow_id: 'w9', error: 'tests failed' } })
    const res = await t.client.request('get_workflow_status', { workflow_id: 'w9' })
    expect(res.data).toEqual({ workflow_id: 'w9', status: 'failed', stages_completed: 1, total_stages: 4, last_stage: 'lint', error: 'tests failed' })
    t.server.broadcast.workflowStarted({ workflow_id: 'w10' })
    t.server.broadcast.workflowCompleted({ workflow_id: 'w10' })
    expect((await t.client.request('get_workflow_status', { workflow_id: 'w10' })).data).toMatchObject({ status: 'completed', stages_completed: 0 })
  })

  it('answers get_pool_status with the latest pool status and its workers', async () => {
    t.server.broadcast.poolStatusChanged({ pool_id: 'p1', status: 'starting', workers: 2 })
    t.server.broadcast.poolStatusChanged({ pool_id: 'p1', status: 'active', workers: ['a', 'b', 'c'] })
    expect((await t.client.request('get_pool_status', { pool_id: 'p1' })).data).toEqual({ pool_id: 'p1', status: 'active', workers: 3 })
    t.server.broadcast.workerStatusChanged({ worker_id: 'k1', status: 'idle', pool_id: 'p2' })
    t.server.broadcast.workerStatusChanged({ worker_id: 'k2', status: 'busy', pool_id: 'p2' })
    t.server.broadcast.poolStatusChanged({ pool_id: 'p2', status: 'active' })
    expect((await t.client.request('get_pool_status', { pool_id: 'p2' })).data).toEqual({ pool_id: 'p2', status: 'active', workers: 2 })
  })

  it('answers not_found for unknown ids and INVALID_PARAMS naming a missing one', async () => {
    expect((await t.client.request('get_workflow_status', { workflow_id: 'nope' })).data).toEqual({ workflow_id: 'nope', status: 'not_found' })
    expect((await t.client.request('get_pool_status', { pool_id: 'nope' })).data).toEqual({ pool_id: 'nope', status: 'not_found' })
    for (const [op, field] of [['get_workflow_status', 'workflow_id'], ['get_pool_status', 'pool_id']] as const) {
      const err = await t.client.request(op, {})
      expect(err.error_code).toBe('INVALID_PARAMS')
      expect(err.error_message).toMatch(new RegExp(`'${field}'`))
    }
  })
})

describe('workflow private goal-teams:{user} channel', () => {
  const secret = 'test-secret-0123456789'
  let s: Started<WorkflowServer>
  afterEach(async () => s?.server.close())

  it('is readable only by its user, and the broadcaster can target it', async () => {
    s = await startService<WorkflowServer>('workflow', { auth: { secret } })
    const anon = await TestClient.connect(s.url)
    const denied = await anon.subscribe('goal-teams:alice')
    expect(denied.error_code).toBe('FORBIDDEN')
    const alice = await TestClient.connect(s.url)
    expect((await alice.request('auth', { token: await signToken({ userId: 'alice' }, secret) })).data).toMatchObject({ user_id: 'alice' })
    expect((await alice.subscribe('goal-teams:bob')).error_code).toBe('FORBIDDEN')
    expect((await alice.subscribe('goal-teams:alice')).data?.status).toBe('subscribed')
    s.server.broadcast.teamCreated({ team_id: 't1', goal: 'ship' }, 'goal-teams:alice')
    const ev = await alice.next((f) => f.event === 'team.created')
    expect(ev).toMatchObject({ room: 'goal-teams:alice', data: { team_id: 't1', goal: 'ship' } })
    await anon.close()
    await alice.close()
  })
})
