import { afterEach, describe, expect, it } from 'vitest'
import type { ContextServer } from '../../services/context/index.js'
import { signHmacToken, type SettingsInput } from '../../src/index.js'
import type { Frame } from '../helpers/client.js'
import { FlatClient } from '../helpers/flat.js'
import { startService, type Started } from '../helpers/server.js'

const SECRET = 'context-test-secret-1234'
let s: Started<ContextServer>
const clients: FlatClient[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await s?.server.close()
})

async function start(settings: SettingsInput = {}): Promise<void> {
  s = await startService<ContextServer>('context', { allow_client_publish: true, auth: { token_secret: SECRET }, ...settings })
}
async function open(query: Record<string, string> = {}): Promise<FlatClient> {
  const c = await FlatClient.open(s.url, query)
  clients.push(c)
  return c
}
const events = (c: FlatClient, event: string) => c.raw.map((r) => JSON.parse(r) as Frame).filter((f) => f.event === event)

describe('context service: the flat dialect (docs/protocol.md B)', () => {
  it('connected frame with a ws_<base36>_<random> client id; auto-subscribed to global', async () => {
    await start()
    const c = await open()
    expect(c.connected).toEqual({ type: 'connected', client_id: expect.stringMatching(/^ws_[0-9a-z]+_[0-9a-z]+$/), timestamp: expect.any(Number) })
    expect(Math.abs((c.connected!.timestamp as number) - Date.now())).toBeLessThan(60_000)
    const p = await open()
    expect(await p.publishFlat('global', 'system.info', { message: 'hi' })).toMatchObject({ type: 'ack', success: true })
    expect(await c.event('system.info', 'global')).toEqual({
      type: 'event',
      id: expect.stringMatching(/^msg_/),
      channel: 'global',
      event: 'system.info',
      data: { message: 'hi' },
      timestamp: expect.any(Number),
    })
  })

  it('subscribe, unsubscribe and publish are answered with acks echoing id and timestamp', async () => {
    await start()
    const c = await open()
    c.send({ type: 'subscribe', channel: 'metrics', id: 'sub-1', timestamp: 1706000000000 })
    expect(await c.next((f) => f.id === 'sub-1')).toMatchObject({ type: 'ack', id: 'sub-1', success: true, timestamp: 1706000000000 })
    expect(await c.op({ type: 'subscribe', channel: 'topics/deploys' })).toMatchObject({ success: true })
    expect(await c.op({ type: 'publish', channel: 'topics/deploys', event: 'task.completed', data: { task_id: 't1', status: 'completed' } })).toMatchObject({
      success: true,
      message_id: expect.stringMatching(/^msg_/),
    })
    expect((await c.event('task.completed', 'topics/deploys')).data).toEqual({ task_id: 't1', status: 'completed' })
    // topics/* also reach global: leave both to hear nothing more of it.
    expect(await c.op({ type: 'unsubscribe', channel: 'topics/deploys' })).toMatchObject({ success: true })
    expect(await c.op({ type: 'unsubscribe', channel: 'global' })).toMatchObject({ success: true })
    await c.subscribeFlat('sessions/marker')
    await c.publishFlat('topics/deploys', 'task.failed', { task_id: 't2' })
    await c.publishFlat('sessions/marker', 'system.info', { message: 'marker' })
    await c.event('system.info')
    expect(events(c, 'task.failed')).toEqual([])
  })

  it('sessions/{id} and topics/{t} also reach global, once per connection; agents/{id} never does', async () => {
    await start()
    const g = await open()
    const both = await open()
    await both.subscribeFlat('sessions/s1')
    const agent = await open({ agent_id: 'bob' })
    await agent.pingFlat()
    await agent.publishFlat('sessions/s1', 'task.created', { task_id: 'a' })
    await agent.publishFlat('topics/x', 'task.created', { task_id: 'b' })
    await agent.publishFlat('agents/bob', 'message.new', { content: 'private' })
    await agent.publishFlat('global', 'system.info', { message: 'end' })
    for (const c of [g, both]) {
      await c.event('system.info')
      expect(events(c, 'task.created').map((f) => [f.channel, f.data?.task_id])).toEqual([['sessions/s1', 'a'], ['topics/x', 'b']])
      expect(events(c, 'message.new')).toEqual([])
    }
    expect((await agent.event('message.new', 'agents/bob')).data).toEqual({ content: 'private' })
  })

  it('auth frame and query parameters identify the agent and join agents/{id} and sessions/{id}', async () => {
    await start()
    const q = await open({ agent_id: 'alice', session_id: 'abc123' })
    const a = await open()
    const ack = await a.op({ type: 'auth', agent_id: 'carol', session_id: 'sess-1', timestamp: 5 })
    expect(ack).toMatchObject({ type: 'ack', success: true, agent_id: 'carol', session_id: 'sess-1', timestamp: 5 })
    const admin = await open()
    await admin.pingFlat()
    s.server.publish('agents/alice', 'message.new', { content: 'to alice' })
    s.server.publish('sessions/abc123', 'session.created', { session_id: 'abc123' })
    s.server.publish('agents/carol', 'message.new', { content: 'to carol' })
    s.server.publish('sessions/sess-1', 'session.ended', { session_id: 'sess-1' })
    expect((await q.event('message.new', 'agents/alice')).data).toEqual({ content: 'to alice' })
    await q.event('session.created', 'sessions/abc123')
    expect((await a.event('message.new', 'agents/carol')).data).toEqual({ content: 'to carol' })
    await a.event('session.ended', 'sessions/sess-1')
    expect(events(q, 'message.new')).toHaveLength(1)
  })

  it('agents/{id} is private: another agent can neither subscribe nor publish there', async () => {
    await start()
    const bob = await open({ agent_id: 'bob' })
    const anon = await open()
    for (const c of [bob, anon]) {
      expect(await c.subscribeFlat('agents/alice')).toMatchObject({ success: false, code: 'FORBIDDEN', error: expect.stringContaining('agents/alice') })
      expect(await c.publishFlat('agents/alice', 'message.new', { content: 'x' })).toMatchObject({ success: false, code: 'FORBIDDEN' })
    }
    expect(await bob.publishFlat('agents/bob', 'message.new', { content: 'note to self' })).toMatchObject({ success: true })
  })

  it('ping is answered with pong echoing the timestamp; the server pings and closes a silent client with 4000', async () => {
    await start({ flat: { ping_interval: 0.1, heartbeat_timeout: 0.4 } })
    const c = await open()
    c.send({ type: 'ping', timestamp: 1234 })
    expect(await c.next((f) => f.type === 'pong')).toEqual({ type: 'pong', timestamp: 1234 })
    expect(await c.next((f) => f.type === 'ping')).toMatchObject({ type: 'ping' })
    // Silent from now on (the ws library answers protocol pings, not app-level ones).
    expect(await c.closed).toEqual({ code: 4000, reason: 'Heartbeat timeout' })
  })

  it('production requires a valid token: agent_id alone is refused (and the connection closed), a token is accepted', async () => {
    await start({ environment: 'production', auth: { token_secret: SECRET } })
    const anon = await open()
    expect(await anon.op({ type: 'auth', agent_id: 'mallory' })).toMatchObject({ success: false, code: 'AUTH_FAILED', error: 'A valid token is required' })
    expect(await anon.closed).toEqual({ code: 1008, reason: 'Authentication failed' })
    const token = signHmacToken({ agentId: 'alice', sessionId: 's1' }, SECRET)
    const ok = await open({ token })
    s.server.publish('agents/alice', 'message.new', { content: 'hello' })
    expect((await ok.event('message.new', 'agents/alice')).data).toEqual({ content: 'hello' })
    const viaFrame = await open()
    expect(await viaFrame.op({ type: 'auth', token })).toMatchObject({ success: true, agent_id: 'alice', session_id: 's1' })
  })
})

describe('context service: restore and metrics', () => {
  it('an agent’s subscriptions come back on its next connection (restore_ttl)', async () => {
    await start()
    const first = await open({ agent_id: 'dana', session_id: 's1' })
    await first.subscribeFlat('topics/deploys')
    await first.subscribeFlat('metrics')
    await first.close()
    const restored = new Promise<string[]>((resolve) => s.server.restore.once('restored', (_c, channels: string[]) => resolve(channels)))
    const again = await open({ agent_id: 'dana' })
    expect(await restored).toEqual(expect.arrayContaining(['global', 'agents/dana', 'sessions/s1', 'topics/deploys', 'metrics']))
    s.server.publish('topics/deploys', 'task.created', { task_id: 'r1' })
    expect((await again.event('task.created', 'topics/deploys')).data).toEqual({ task_id: 'r1' })
    // Another agent gets nothing of dana's.
    const other = new Promise<string[]>((resolve) => s.server.restore.once('restored', (_c, channels: string[]) => resolve(channels)))
    await open({ agent_id: 'erin' })
    expect(await other).toEqual([])
  })

  it('metrics: a metric.update snapshot every metrics_interval with every field of the spec', async () => {
    await start({ context: { metrics_interval: 0.05 } })
    const c = await open({ agent_id: 'a1', session_id: 's1' })
    await open({ agent_id: 'a2', session_id: 's1' })
    await c.subscribeFlat('metrics')
    await c.publishFlat('sessions/s1', 'task.created', { task_id: 't' })
    // The first snapshot that counts the task (metric.update events count as actions too, so
    // actions_per_minute ≥ 1 could come from them alone on a slow host).
    const snap = await c.next((f) => f.event === 'metric.update' && ((f.data?.events_per_minute as Record<string, number> | undefined)?.task ?? 0) >= 1)
    expect(snap).toMatchObject({ type: 'event', channel: 'metrics', id: expect.stringMatching(/^msg_/) })
    expect(snap.data).toEqual({
      active_sessions: 1,
      active_agents: 2,
      connected_clients: 2,
      actions_per_minute: expect.any(Number),
      events_per_minute: expect.objectContaining({ task: expect.any(Number), metric: expect.any(Number) }),
      pending_deliveries: expect.any(Number),
      failed_deliveries: expect.any(Number),
      instances: 1,
      timestamp: expect.any(String),
      publisher: s.server.instanceId,
    })
    expect((snap.data?.events_per_minute as Record<string, number>).task).toBe(1)
  })
})

describe('context service: at-least-once task/subtask/message events', () => {
  it('a tracked event is re-sent with the same id until acked; an acked one is not; metrics count the failure', async () => {
    await start({ delivery: { tracked: ['task.*', 'subtask.*', 'message.*'], ack_timeout: 0.1, max_attempts: 3 }, context: { metrics_interval: 0.05 } })
    const silent = await open({ agent_id: 'silent' })
    const acking = await open({ agent_id: 'acking' })
    await silent.subscribeFlat('metrics')
    s.server.publish('global', 'task.created', { task_id: 'tr1' })
    const first = await acking.event('task.created')
    acking.send({ type: 'ack', message_id: first.id })
    const copies = [await silent.event('task.created'), await silent.event('task.created'), await silent.event('task.created')]
    expect(new Set(copies.map((f) => f.id))).toEqual(new Set([first.id]))
    const failed = await silent.next((f) => f.event === 'metric.update' && f.data?.failed_deliveries === 1, 10_000)
    expect(failed.data).toMatchObject({ failed_deliveries: 1, pending_deliveries: 0 })
    await acking.publishFlat('global', 'system.info', { message: 'end' })
    await acking.event('system.info')
    expect(events(acking, 'task.created')).toHaveLength(1)
    expect(events(silent, 'task.created')).toHaveLength(3)
  })
})
