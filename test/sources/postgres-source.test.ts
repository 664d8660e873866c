import { Writable } from 'node:stream'
import { randomUUID } from 'node:crypto'
import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { contextEvents } from '../../services/context/events.js'
import { parseSettings, type SettingsInput, WebSocketServer } from '../../src/index.js'
import { PostgresSource } from '../../src/sources/postgres-source.js'
import { type Frame, TestClient } from '../helpers/client.js'
import { clusterFormed, until } from '../helpers/cluster.js'
import { docsSql, TestDatabase } from '../helpers/postgres.js'
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
  await db.query(docsSql())
})

/** What a trusted producer runs: the row goes to the outbox, the notification names it. */
async function emit(channel: string, event: string, data: unknown): Promise<string> {
  const r = await db.query<{ id: string }>('SELECT roomcast_emit($1, $2, $3)::text AS id', [channel, event, JSON.stringify(data)])
  return r.rows[0]!.id
}
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

let logs: string[] = []

async function start(postgres: SettingsInput['postgres'] = {}, extra: SettingsInput = {}): Promise<Node> {
  const settings = parseSettings({ port: 0, log_level: 'silent', drain_timeout: 1, ...extra, postgres: { url: db.url, reconnect_min: 0.05, reconnect_max: 0.2, ...postgres } })
  logs = []
  const stream = new Writable({ write: (chunk: Buffer, _enc, done) => (logs.push(chunk.toString()), done()) })
  const server = new WebSocketServer(spec, settings, { logger: pino({ level: 'warn' }, stream) })
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
  it('an event written to the outbox by roomcast_emit reaches a subscriber of its channel; /health shows the source', async () => {
    const node = await start()
    const c = await subscriber(node, 'sessions/s1')
    await emit('sessions/s1', 'task.created', { task_id: 't1', status: 'pending' })
    const f = await c.next(isEvent('task.created'))
    expect(f).toMatchObject({ room: 'sessions/s1', data: { task_id: 't1', status: 'pending' } })
    const health = (await (await fetch(`http://127.0.0.1:${node.server.port}/health`)).json()) as Record<string, unknown>
    expect(health.postgres).toMatchObject({ state: 'listening', channel: 'roomcast_events', outbox: 'roomcast_outbox', received: 1, delivered: 1, invalid: 0 })
  })

  it('malformed and oversized notifications, missing and malformed rows are counted by reason and logged, and the source keeps delivering', async () => {
    const node = await start()
    const c = await subscriber(node, 'global')
    const notIds = [
      'not json {',
      '[1,2,3]',
      '',
      '0',
      '-1',
      '1.5',
      '9223372036854775808',
      'x'.repeat(7999),
      JSON.stringify({ channel: 'global', event: 'task.created', data: { task_id: 't' } }),
      JSON.stringify({ channel: 'global', event: 'task.created', ref: { table: 'pg_authid', id: 1 } }),
    ]
    for (const p of notIds) await db.notify('roomcast_events', p)
    await db.notify('roomcast_events', '9223372036854775807')
    // Rows the owner wrote (trusted), but that no subscriber may receive: each is refused by the publish checks or by shape.
    const rows = [
      ['nope/x/y', 'task.created', { task_id: 't' }],
      ['global', 'task.exploded', {}],
      ['global', 'task.created', { status: 'no id' }],
      ['global', 'task.created', [1, 2]],
    ] as const
    for (const [channel, event, data] of rows) await emit(channel, event, data)
    const bad = notIds.length + 1 + rows.length
    await until(node.source, 'rejected', () => node.source.status().invalid === bad, 10_000, 'every bad notification to be counted')
    expect(node.source.status().rejected).toEqual({ not_id: notIds.length, missing: 1, refused: 3, bad_row: 1 })
    expect(logs.filter((l) => l.includes('notification not delivered'))).toHaveLength(bad)
    await emit('global', 'system.info', { message: 'still here' })
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
    await emit('global', 'agent.heartbeat', { agent_id: 'after-kill' })
    expect((await c.next(isEvent('agent.heartbeat'))).data).toEqual({ agent_id: 'after-kill' })
  })

  it('rows written while the connection was lost are delivered once it listens again, each once', async () => {
    const node = await start({ reconnect_min: 2, reconnect_max: 2 })
    const c = await subscriber(node, 'global')
    const states: string[] = []
    node.source.on('state', (s: string) => states.push(s))
    expect(await db.terminate(node.source.status().backend_pid!)).toBe(true)
    await until(node.source, 'state', () => states.includes('reconnecting'), 10_000, 'the source to notice')
    // Committed while nothing listens: its notification is lost, its row is not.
    await emit('global', 'agent.heartbeat', { agent_id: 'while-away' })
    expect((await c.next(isEvent('agent.heartbeat'), 10_000)).data).toEqual({ agent_id: 'while-away' })
    await emit('global', 'agent.heartbeat', { agent_id: 'after' })
    expect((await c.next(isEvent('agent.heartbeat'))).data).toEqual({ agent_id: 'after' })
    expect(c.pending.filter(isEvent('agent.heartbeat'))).toEqual([])
    expect(node.source.status()).toMatchObject({ state: 'listening', reconnects: 1, delivered: 2, invalid: 0 })
  })

  it('an event over NOTIFY\'s 8,000 bytes goes through the outbox whole; events arrive in the order they were notified', async () => {
    const node = await start()
    const c = await subscriber(node, 'topics/deploys')
    const big = { task_id: 'big', notes: 'n'.repeat(20_000) }
    await emit('topics/deploys', 'task.updated', big)
    await emit('topics/deploys', 'task.completed', { task_id: 'big' })
    expect((await c.next(isEvent('task.updated'))).data).toEqual(big)
    await c.next(isEvent('task.completed'))
    expect(c.raw.findIndex((r) => r.includes('task.updated'))).toBeLessThan(c.raw.findIndex((r) => r.includes('task.completed')))
    expect(node.source.status()).toMatchObject({ delivered: 2, invalid: 0 })
  })

  it('rows written before the source listened are not delivered when a notification names them', async () => {
    const old = await emit('global', 'system.info', { message: 'before the source' })
    const node = await start()
    const c = await subscriber(node, 'global')
    await db.notify('roomcast_events', old)
    await until(node.source, 'rejected', () => node.source.status().invalid === 1, 10_000, 'the old row to be refused')
    expect(node.source.status().rejected).toEqual({ replayed: 1 })
    await emit('global', 'system.info', { message: 'after' })
    expect((await c.next(isEvent('system.info'))).data).toEqual({ message: 'after' })
  })

  it('the trigger of docs/postgres.md (run again: it is idempotent) makes an event of an INSERT into tasks, large or small', async () => {
    await db.query(docsSql())
    const node = await start()
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

describe('settings', () => {
  it('postgres.ref_tables (the by-reference lookup of an untrusted NOTIFY) is refused at boot, naming the key', () => {
    expect(() => parseSettings({ postgres: { ref_tables: ['roomcast_payloads'] } } as unknown as SettingsInput)).toThrow(/postgres\.ref_tables.*removed/s)
  })
})

describe('a database without the outbox', () => {
  it('the source listens and reports the missing table; once the SQL of docs/postgres.md has run, events flow', async () => {
    const bare = await TestDatabase.create()
    try {
      const node = await start({ url: bare.url })
      expect(node.source.status().last_error).toMatch(/roomcast_outbox.*does not exist/)
      expect(logs.filter((l) => l.includes('cannot read the outbox table'))).toHaveLength(1)
      const c = await subscriber(node, 'global')
      await bare.query(docsSql())
      await bare.query("SELECT roomcast_emit('global', 'system.info', '{\"message\":\"first row\"}')")
      expect((await c.next(isEvent('system.info'))).data).toEqual({ message: 'first row' })
    } finally {
      await Promise.all(clients.splice(0).map((c) => c.close()))
      await Promise.all(servers.splice(0).map((s) => s.close()))
      await bare.drop()
    }
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
    // The owner may write the outbox and notify any way it likes: the notification only names the row.
    const row = async (event: string, message: string) => {
      const r = await db.query<{ id: string }>("INSERT INTO roomcast_outbox (channel, event, data) VALUES ('global', $1, $2) RETURNING id::text AS id", [event, { message }])
      await db.notify(channel, r.rows[0]!.id)
    }
    for (let i = 0; i < 3; i++) await row('system.info', `n${i}`)
    await row('system.error', 'end')
    for (const c of subs) {
      await c.next(isEvent('system.error'))
      const got = c.raw.map((r) => JSON.parse(r) as Frame).filter((f) => f.event === 'system.info').map((f) => f.data?.message)
      expect(got).toEqual(['n0', 'n1', 'n2'])
    }
    // A duplicate over Redis could still be in flight: the proof is that nothing went to Redis at all.
    for (const n of nodes) expect(n.server.broker.stats().published).toBe(0)
  })
})
