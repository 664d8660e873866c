import { describe, expect, it } from 'vitest'
import { contextEvents, contextRoutes } from '../../services/context/events.js'

describe('context event schemas', () => {
  it('accepts the seeds’ examples and lets extra fields through', () => {
    expect(contextEvents['task.completed'].parse({ task_id: 't1', status: 'completed', extra: 1 })).toEqual({ task_id: 't1', status: 'completed', extra: 1 })
    expect(contextEvents['message.new'].parse({ content: 'Hello!' })).toEqual({ content: 'Hello!' })
    expect(contextEvents['message.new'].parse({ content: 'Migration complete', priority: 1 }).priority).toBe(1)
  })

  it('refuses payloads without the identifying field, naming it', () => {
    const missing = (event: keyof typeof contextEvents, data: unknown) => {
      const r = contextEvents[event].safeParse(data)
      return r.success ? null : r.error.issues[0]?.path.join('.')
    }
    expect(missing('task.created', {})).toBe('task_id')
    expect(missing('subtask.running', { task_id: 't' })).toBe('subtask_id')
    expect(missing('message.new', { to: 'a' })).toBe('content')
    expect(missing('message.read', {})).toBe('message_id')
    expect(missing('agent.blocked', { reason: 'x' })).toBe('agent_id')
    expect(missing('session.ended', {})).toBe('session_id')
    expect(missing('system.error', { message: '' })).toBe('message')
    expect(missing('metric.update', { active_sessions: 1 })).toBe('active_agents')
    expect(missing('task.updated', { task_id: 5 })).toBe('task_id')
  })

  it('routes in-process events to their scope', () => {
    expect(contextRoutes['task.created']({ task_id: 't', session_id: 's1' })).toBe('sessions/s1')
    expect(contextRoutes['task.created']({ task_id: 't' })).toBe('global')
    expect(contextRoutes['message.new']({ content: 'hi', to: 'bob' })).toBe('agents/bob')
    expect(contextRoutes['metric.update']({} as never)).toBe('metrics')
  })
})
