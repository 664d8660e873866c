import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { ContextServer } from '../../services/context/index.js'
import { until } from '../helpers/cluster.js'
import { FlatClient } from '../helpers/flat.js'
import { docsSql, TestDatabase } from '../helpers/postgres.js'
import { startService, type Started } from '../helpers/server.js'

// Issue 18, finding 4: a database role without rights on the outbox cannot speak for roomcast.
const SECRET = 'payroll: alice 1,000,000'

let db: TestDatabase
let mallory: pg.Client
const role = `mallory_${randomBytes(4).toString('hex')}`

beforeAll(async () => {
  db = await TestDatabase.create()
  await db.query(docsSql())
  // A table the untrusted role may not read, shaped as the old by-reference lookup wanted it.
  await db.query('CREATE TABLE secrets (id bigint PRIMARY KEY, data jsonb NOT NULL)')
  await db.query('INSERT INTO secrets VALUES (1, $1)', [JSON.stringify({ content: SECRET })])
  await db.query(`CREATE ROLE ${role} LOGIN`)
  // As on PostgreSQL before 15 (or a careless grant): it may create objects in public.
  await db.query(`GRANT CREATE ON SCHEMA public TO ${role}`)
  const url = new URL(db.url)
  url.username = role
  mallory = new pg.Client({ connectionString: url.href })
  mallory.on('error', () => {})
  await mallory.connect()
})
afterAll(async () => {
  await mallory?.end().catch(() => {})
  await db?.query(`DROP OWNED BY ${role}`).catch(() => {})
  await db?.query(`DROP ROLE IF EXISTS ${role}`).catch(() => {})
  await db?.drop()
})

let s: Started<ContextServer> | null = null
const clients: FlatClient[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await s?.server.close()
  s = null
})

async function start(): Promise<ContextServer> {
  s = await startService<ContextServer>('context', { postgres: { url: db.url, reconnect_min: 0.05, reconnect_max: 0.2 } })
  const source = s.server.postgres!
  await until(source, 'state', () => source.state === 'listening', 10_000, 'the source to listen')
  return s.server
}

async function agent(id: string): Promise<FlatClient> {
  const c = await FlatClient.open(s!.url, { agent_id: id })
  clients.push(c)
  await c.pingFlat()
  return c
}

/** A statement the untrusted role runs that PostgreSQL must refuse; resolves to the error's message. */
async function refusedFor(sql: string): Promise<string> {
  const err = await mallory.query(sql).then(
    () => null,
    (e: unknown) => e as Error,
  )
  expect(err, sql).not.toBeNull()
  return err!.message
}

describe('PostgreSQL events only from a trusted producer', () => {
  it('the untrusted role cannot write the outbox, call roomcast_emit, attach the trigger function to its own table, or read events', async () => {
    expect(await refusedFor("INSERT INTO roomcast_outbox (channel, event, data) VALUES ('agents/alice', 'message.new', '{}')")).toMatch(/permission denied/)
    expect(await refusedFor("SELECT roomcast_emit('agents/alice', 'message.new', '{\"content\":\"forged\"}')")).toMatch(/permission denied/)
    expect(await refusedFor('SELECT * FROM roomcast_outbox')).toMatch(/permission denied/)
    expect(await refusedFor('SELECT * FROM secrets')).toMatch(/permission denied/)
    await mallory.query('CREATE TABLE my_tasks (id bigint, title text, status text, agent_id text, session_id text, created_at timestamptz)')
    expect(await refusedFor('CREATE TRIGGER forge AFTER INSERT ON my_tasks FOR EACH ROW EXECUTE FUNCTION roomcast_notify_task_created()')).toMatch(
      /permission denied/,
    )
  })

  it('a forged NOTIFY (a ref to a table it may not read, a message.new to agents/alice, a future or a replayed id) delivers nothing; a genuine event still arrives', async () => {
    const server = await start()
    const source = server.postgres!
    const alice = await agent('alice')
    const bob = await agent('bob')
    const next = (await db.query<{ id: string }>('SELECT (CASE WHEN is_called THEN last_value + 1 ELSE last_value END)::text AS id FROM roomcast_outbox_id_seq')).rows[0]!.id
    const forged = [
      { channel: 'agents/bob', event: 'message.new', ref: { table: 'secrets', id: 1 } },
      { channel: 'agents/alice', event: 'message.new', data: { content: 'forged by mallory', from: 'alice' } },
      next,
    ]
    // Whichever comes first: every forged notification refused, or (unfixed) one of them delivered.
    const outcome = Promise.race([
      until(source, 'rejected', () => source.status().invalid === forged.length, 10_000, 'every forged notification to be refused').then(() => 'refused'),
      alice.next((f) => f.event === 'message.new' && f.data?.content === 'forged by mallory', 10_000).then(() => 'forged message delivered to alice'),
      bob.next((f) => JSON.stringify(f).includes('payroll'), 10_000).then(() => 'secret row delivered to bob'),
    ])
    for (const p of forged) await mallory.query('SELECT pg_notify($1, $2)', ['roomcast_events', typeof p === 'string' ? p : JSON.stringify(p)])
    expect(await outcome).toBe('refused')
    expect(source.status().rejected).toEqual({ not_id: 2, missing: 1 })

    // The row whose id was named early is still delivered when its producer writes it; naming it again delivers nothing.
    const genuine = await db.query<{ id: string }>("SELECT roomcast_emit('agents/alice', 'message.new', '{\"content\":\"genuine\"}')::text AS id")
    expect(genuine.rows[0]!.id).toBe(next)
    expect((await alice.event('message.new', 'agents/alice')).data).toEqual({ content: 'genuine' })
    await mallory.query('SELECT pg_notify($1, $2)', ['roomcast_events', next])
    await until(source, 'rejected', () => source.status().invalid === forged.length + 1, 10_000, 'the replay to be refused')
    expect(source.status().rejected).toEqual({ not_id: 2, missing: 1, replayed: 1 })
    await db.query("INSERT INTO tasks (title) VALUES ('from the trigger')")
    expect((await alice.event('task.created', 'global')).data).toMatchObject({ title: 'from the trigger' })
    await bob.pingFlat()
    for (const c of [alice, bob]) expect(c.raw.filter((r) => r.includes('payroll') || r.includes('forged by mallory'))).toEqual([])
    expect(alice.raw.filter((r) => r.includes('"message.new"'))).toHaveLength(1)
    expect(bob.raw.filter((r) => r.includes('"message.new"'))).toEqual([])
  })
})
