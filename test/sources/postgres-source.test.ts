import { readFileSync } from 'node:fs'
import { randomUUID } from 'node:crypto'
import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { contextEvents } from '../../services/context/events.js'
import { parseSettings, type SettingsInput, WebSocketServer } from '../../src/index.js'
import { PostgresSource } from '../../src/sources/postgres-source.js'
import { type Frame, TestClient } from '../helpers/client.js'
import { clusterFormed, until } from '../helpers/cluster.js'
import { TestDatabase } from '../helpers/postgres.js'
import { TestRedis } from '../helpers/redis.js'

// The context service's channels and events; the source only needs a server to deliver through.
const spec = {
  name: 'pgtest',
  welcome: 'hello',
  channels: [{ pattern: 'global' }, { pattern: 'metrics' }, { pattern: 'sessions/{id}' }, { pattern: 'topics/{topic}' }],
  events: contextEvents,
}

let db: TestDatabase
beforeAll(async () => {
  db = await TestDatabase.create()
})
afterAll(async () => db?.drop())

const servers: WebSocketServer[] = []
const clients: TestClient[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

interface Node {
  server: WebSocketServer
  source: PostgresSource
  url: string
}

async function start(postgres: SettingsInput['postgres'] = {}, extra: SettingsInput = {}): Promise<Node> {
  const settings = parseSettings({ port: 0, log_level: 'silent', drain_timeout: 1, ...extra, postgres: { url: db.url, reconnect_min: 0.05, reconnect_max: 0.2, ...postgres } })
  const server = new WebSocketServer(spec, settings, { logger: pino({ level: 'silent' }) })
  const source = new PostgresSource(settings.postgres)
  server.use(source)
  servers.push(server)
  await server.listen()
  await until(source, 'state', () => source.state === 'listening', 10_000, 'the source to listen')
  return { server, source, url: `ws://127.0.0.1:${server.port}/ws` }
}

async function subscriber(node: Node, channel: string): Promise<TestClient> {
  const c = await TestClient.connect(node.url)
  clients.push(c)
  expect((await c.subscribe(channel)).data?.status).toBe('subscribed')
  return c
}

const isEvent = (name: string) => (f: Frame) => f.type === 'event' && f.event === name

describe('PostgreSQL LISTEN/NOTIFY source', () => {
  it('a NOTIFY from SQL reaches a subscriber of the named channel; /health shows the source', async () => {
    const node = await start()
    const c = await subscriber(node, 'sessions/s1')
    await db.notify('roomcast_events', { channel: 'sessions/s1', event: 'task.created', data: { task_id: 't1', status: 'pending' } })
    const f = await c.next(isEvent('task.created'))
    expect(f).toMatchObject({ room: 'sessions/s1', data: { task_id: 't1', status: 'pending' } })
    const health = (await (await fetch(`http://127.0.0.1:${node.server.port}/health`)).json()) as Record<string, unknown>
    expect(health.postgres).toMatchObject({ state: 'listening', channel: 'roomcast_events', received: 1, delivered: 1, invalid: 0 })
  })

  it('invalid payloads are counted by reason and logged, and the source keeps delivering', async () => {
    const node = await start({ ref_tables: ['roomcast_payloads'] })
    const c = await subscriber(node, 'global')
    const bad = [
      'not json {',
      '[1,2,3]',
      JSON.stringify({ channel: 'global', event: 'task.created' }),
      JSON.stringify({ channel: 'global', event: 'task.created', data: { task_id: 't' }, ref: { table: 'roomcast_payloads', id: 1 } }),
      JSON.stringify({ channel: 'nope/x/y', event: 'task.created', data: { task_id: 't' } }),
      JSON.stringify({ channel: 'global', event: 'task.exploded', data: {} }),
      JSON.stringify({ channel: 'global', event: 'task.created', data: { status: 'no id' } }),
      JSON.stringify({ channel: 'global', event: 'task.created', ref: { table: 'pg_authid', id: 1 } }),
      JSON.stringify({ channel: 'global', event: 'task.created', ref: { table: 'x"; DROP TABLE tasks; --', id: 1 } }),
    ]
    for (const p of bad) await db.notify('roomcast_events', p)
    await until(node.source, 'rejected', () => node.source.status().invalid === bad.length, 10_000, 'every bad payload to be counted')
    expect(node.source.status().rejected).toEqual({ not_json: 1, bad_shape: 3, refused: 3, ref_not_allowed: 2 })
    await db.notify('roomcast_events', { channel: 'global', event: 'system.info', data: { message: 'still here' } })
    expect((await c.next(isEvent('system.info'))).data).toEqual({ message: 'still here' })
    expect(c.pending.filter((f) => f.type === 'event')).toEqual([])
  })

  it('reconnects and re-issues LISTEN after its backend is killed with pg_terminate_backend', async () => {
    const node = await start()
    const c = await subscriber(node, 'global')
    const pid = node.source.status().backend_pid
    expect(pid).toBeTypeOf('number')
    const states: string[] = []
    node.source.on('state', (s: string) => states.push(s))
    expect(await db.terminate(pid!)).toBe(true)
    await until(node.source, 'state', () => states.includes('listening'), 10_000, 'the source to listen again')
    expect(states).toEqual(['reconnecting', 'listening'])
    expect(node.source.status()).toMatchObject({ state: 'listening', reconnects: 1 })
    expect(node.source.status().backend_pid).not.toBe(pid)
    await db.notify('roomcast_events', { channel: 'global', event: 'agent.heartbeat', data: { agent_id: 'after-kill' } })
    expect((await c.next(isEvent('agent.heartbeat'))).data).toEqual({ agent_id: 'after-kill' })
  })

  it('resolves a by-reference payload over 8,000 bytes with one SELECT; a missing row is counted', async () => {
    await db.query('CREATE TABLE IF NOT EXISTS big_events (id bigserial PRIMARY KEY, data jsonb NOT NULL)')
    const big = { task_id: 'big', notes: 'n'.repeat(20_000) }
    const { rows } = await db.query<{ id: string }>('INSERT INTO big_events (data) VALUES ($1) RETURNING id', [JSON.stringify(big)])
    const node = await start({ ref_tables: ['big_events'] })
    const c = await subscriber(node, 'topics/deploys')
    await db.notify('roomcast_events', { channel: 'topics/deploys', event: 'task.updated', ref: { table: 'big_events', id: 999_999 } })
    await db.notify('roomcast_events', { channel: 'topics/deploys', event: 'task.updated', ref: { table: 'big_events', id: rows[0]!.id } })
    // Inline after a reference: it waits for the lookup, so the order of NOTIFYs is kept.
    await db.notify('roomcast_events', { channel: 'topics/deploys', event: 'task.completed', data: { task_id: 'big' } })
    expect((await c.next(isEvent('task.updated'))).data).toEqual(big)
    await c.next(isEvent('task.completed'))
    expect(c.raw.findIndex((r) => r.includes('task.updated'))).toBeLessThan(c.raw.findIndex((r) => r.includes('task.completed')))
    expect(node.source.status().rejected).toEqual({ ref_missing: 1 })
  })

  it('the trigger of docs/postgres.md notifies on INSERT into tasks, inline and by reference', async () => {
    const doc = readFileSync(new URL('../../docs/postgres.md', import.meta.url), 'utf8')
    const sql = [...doc.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!).join('\n')
    await db.query(sql)
    const node = await start({ ref_tables: ['roomcast_payloads'] })
    const c = await subscriber(node, 'sessions/abc123')
    await db.query("INSERT INTO tasks (title, session_id) VALUES ('Migrate the users table', 'abc123')")
    const small = await c.next(isEvent('task.created'))
    expect(small.data).toMatchObject({ title: 'Migrate the users table', status: 'pending', session_id: 'abc123', task_id: expect.any(String) })
    await db.query("INSERT INTO tasks (title, session_id) VALUES ($1, 'abc123')", ['t'.repeat(9000)])
    const large = await c.next(isEvent('task.created'))
    expect(String(large.data?.title)).toHaveLength(9000)
    expect(node.source.status()).toMatchObject({ delivered: 2, invalid: 0 })
  })
})

describe('two instances over Redis, each with its own source', () => {
  let redis: TestRedis
  beforeAll(async () => {
    redis = await TestRedis.start()
  })
  afterAll(async () => redis?.kill())

  it('each subscriber gets each notification once (no re-broadcast over Redis)', async () => {
    const prefix = `pg-${randomUUID().slice(0, 8)}:`
    const channel = `ch_${randomUUID().slice(0, 8).replace(/-/g, '')}`
    const nodes = [await start({ channel }, { redis: { url: redis.url, prefix } }), await start({ channel }, { redis: { url: redis.url, prefix } })]
    await clusterFormed(nodes.map((n) => n.server))
    const subs = [await subscriber(nodes[0]!, 'global'), await subscriber(nodes[1]!, 'global')]
    for (let i = 0; i < 3; i++) await db.notify(channel, { channel: 'global', event: 'system.info', data: { message: `n${i}` } })
    await db.notify(channel, { channel: 'global', event: 'system.error', data: { message: 'end' } })
    for (const c of subs) {
      await c.next(isEvent('system.error'))
      const got = c.raw.map((r) => JSON.parse(r) as Frame).filter((f) => f.event === 'system.info').map((f) => f.data?.message)
      expect(got).toEqual(['n0', 'n1', 'n2'])
    }
    // A duplicate over Redis could still be in flight: the proof is that nothing went to Redis at all.
    for (const n of nodes) expect(n.server.broker.stats().published).toBe(0)
  })
})
