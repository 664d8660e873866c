import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import pg from 'pg'

/** The machine's PostgreSQL (trust auth for postgres on 127.0.0.1); `.ci/run` starts it. */
export const PG_ADMIN_URL = process.env.ROOMCAST_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

/** A database of its own for one test file: created with a random name, dropped (forcibly) at the end. */
export class TestDatabase {
  readonly name: string
  readonly url: string
  readonly #client: pg.Client

  private constructor(name: string, url: string, client: pg.Client) {
    this.name = name
    this.url = url
    this.#client = client
  }

  static async create(): Promise<TestDatabase> {
    const name = `roomcast_test_${randomBytes(6).toString('hex')}`
    await withAdmin((admin) => admin.query(`CREATE DATABASE ${name}`))
    const url = new URL(PG_ADMIN_URL)
    url.pathname = `/${name}`
    const client = new pg.Client({ connectionString: url.href })
    client.on('error', () => {})
    await client.connect()
    return new TestDatabase(name, url.href, client)
  }

  /** Runs SQL on the test database (one connection, statements in order). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>> {
    return this.#client.query<R>(sql, params)
  }

  /** `pg_notify(channel, payload)` from SQL, as a producer would. */
  async notify(channel: string, payload: unknown): Promise<void> {
    await this.query('SELECT pg_notify($1, $2)', [channel, typeof payload === 'string' ? payload : JSON.stringify(payload)])
  }

  /** Kills a backend as an operator or a failover would; resolves true when it was terminated. */
  async terminate(pid: number): Promise<boolean> {
    const r = await this.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [pid])
    return r.rows[0]?.ok === true
  }

  async drop(): Promise<void> {
    await this.#client.end().catch(() => {})
    await withAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS ${this.name} WITH (FORCE)`))
  }
}

/** The SQL blocks of docs/postgres.md, run as is by the tests: the outbox, roomcast_emit and the tasks trigger. */
export function docsSql(): string {
  const doc = readFileSync(new URL('../../docs/postgres.md', import.meta.url), 'utf8')
  return [...doc.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!).join('\n')
}

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL })
  admin.on('error', () => {})
  await admin.connect()
  try {
    return await fn(admin)
  } finally {
    await admin.end()
  }
}
