import { EventEmitter } from 'node:events'
import { createRequire } from 'node:module'
import type pg from 'pg'
import type { Logger } from 'pino'
import type { Settings } from '../config/settings.js'
import { AppError } from '../protocol/codes.js'
import type { JsonObject } from '../protocol/messages.js'
import type { ServerPlugin } from '../server/plugin.js'
import type { ServerView } from '../server/server-view.js'
import { DeliveredIds } from './delivered-ids.js'
import { parseNotification, parseOutboxRow, quoteTable } from './notify-payload.js'

/** Where the source delivers: this instance's own subscribers only (never re-broadcast over Redis). */
export interface LocalPublisher {
  /** Validates like a publish (channel, event, payload) and delivers locally; throws AppError when refused. */
  publishLocal(channel: unknown, event: unknown, data: unknown): unknown
}

export type SourceState = 'off' | 'connecting' | 'listening' | 'reconnecting' | 'stopped'

/** Why a notification was not delivered; each has its own counter. */
export type Rejection = 'not_id' | 'missing' | 'replayed' | 'bad_row' | 'refused' | 'read_failed' | 'queue_full'

export interface PostgresSourceStatus {
  readonly state: SourceState
  readonly channel: string
  readonly received: number
  readonly delivered: number
  readonly invalid: number
  readonly rejected: Readonly<Partial<Record<Rejection, number>>>
  readonly reconnects: number
  readonly queued: number
  /** PID of the LISTEN backend while listening (pg_stat_activity.pid), else null. */
  readonly backend_pid: number | null
  readonly last_error: string | null
}

type PostgresSettings = Settings['postgres']

/** Outbox rows read with one query. */
const READ_BATCH = 500
/** Outbox ids remembered as delivered (DeliveredIds). */
const DELIVERED_MEMORY = 65_536

/**
 * PostgreSQL as an event source (docs/postgres.md), a server plugin: a dedicated client LISTENs
 * on `postgres.channel`, where a notification only names a row of the outbox table
 * (`postgres.outbox`); the source reads that row and delivers it like a publish to this
 * instance's clients, once. Any role may NOTIFY, so nothing of a notification's text is
 * delivered; only what the producers' functions wrote to the outbox is. A lost connection is
 * retried with capped exponential backoff and LISTEN re-issued. Emits `state` on every state
 * change, `delivered` and `rejected` per notification.
 */
export class PostgresSource extends EventEmitter implements ServerPlugin {
  readonly name = 'postgres'
  readonly #settings: PostgresSettings
  #sink: LocalPublisher | null
  #log: Logger | null = null
  #appName = 'roomcast'
  #client: pg.Client | null = null
  #state: SourceState = 'off'
  #attempt = 0
  #retry: NodeJS.Timeout | null = null
  #backendPid: number | null = null
  #lastError: string | null = null
  readonly #queue: bigint[] = []
  readonly #delivered = new DeliveredIds(DELIVERED_MEMORY)
  #draining = false
  /** Whether a connection has listened with the outbox readable: a later one catches up instead of starting after the newest row. */
  #listened = false
  /** Rows the last catch-up queued: a notification may name them too, and either copy is then dropped silently. */
  #caughtUp = new Set<bigint>()
  #counts = { received: 0, delivered: 0, reconnects: 0 }
  readonly #rejected = new Map<Rejection, number>()

  constructor(settings: PostgresSettings, sink: LocalPublisher | null = null) {
    super()
    this.#settings = settings
    this.#sink = sink
  }

  setup(server: ServerView): void {
    this.#sink ??= server
    this.#log = server.log.child({ source: 'postgres' })
    this.#appName = `roomcast:${server.name}:${server.instanceId.slice(0, 8)}`
  }

  /** Connects and LISTENs; resolves after the first attempt, successful or not (retries go on in the background). */
  async start(): Promise<void> {
    if (this.#settings.url === null || this.#state !== 'off') return
    await this.#connect()
  }

  async stop(): Promise<void> {
    this.#setState('stopped')
    if (this.#retry !== null) clearTimeout(this.#retry)
    const client = this.#client
    this.#client = null
    await client?.end().catch(() => {})
  }

  get state(): SourceState {
    return this.#state
  }

  status(): PostgresSourceStatus & JsonObject {
    const rejected = Object.fromEntries(this.#rejected)
    return {
      state: this.#state,
      channel: this.#settings.channel,
      outbox: this.#settings.outbox,
      ...this.#counts,
      invalid: [...this.#rejected.values()].reduce((a, b) => a + b, 0),
      rejected,
      queued: this.#queue.length,
      backend_pid: this.#backendPid,
      last_error: this.#lastError,
    }
  }

  #setState(state: SourceState): void {
    if (this.#state === state || this.#state === 'stopped') return
    this.#state = state
    this.emit('state', state)
  }

  async #connect(): Promise<void> {
    this.#setState(this.#attempt === 0 ? 'connecting' : 'reconnecting')
    // pg is loaded on the first connection: a service without PostgreSQL never loads it.
    const { Client } = createRequire(import.meta.url)('pg') as typeof pg
    const client = new Client({ connectionString: this.#settings.url ?? undefined, application_name: this.#appName, keepAlive: true })
    this.#client = client
    // Listeners before the first await: a connection lost at any point ends here.
    client.on('error', (err) => this.#lost(client, err))
    client.on('end', () => this.#lost(client, null))
    client.on('notification', (msg) => {
      if (msg.channel === this.#settings.channel) this.#onNotification(msg.payload ?? '')
    })
    try {
      await client.connect()
      const catchUp = this.#listened
      const outboxProblem = catchUp ? null : await this.#startAfterNewest(client)
      await client.query(`LISTEN "${this.#settings.channel}"`)
      const pid = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
      if (this.#client !== client) return
      // After LISTEN: a row committed from now on is notified, one committed before is read here.
      if (catchUp) await this.#catchUp(client)
      if (this.#client !== client) return
      this.#listened ||= outboxProblem === null
      this.#backendPid = pid.rows[0]?.pid ?? null
      this.#attempt = 0
      this.#lastError = outboxProblem
      this.#setState('listening')
      this.#log?.info({ channel: this.#settings.channel, pid: this.#backendPid }, 'listening for notifications')
    } catch (err) {
      this.#lost(client, err)
    }
  }

  /**
   * Rows already in the outbox were written before this connection listened: never delivered
   * through it. Read before LISTEN, so a row committed in between is not taken for an old one.
   * An outbox the service cannot read (missing, no SELECT) is reported, not retried: the source
   * listens, and reads succeed once the SQL of docs/postgres.md has run.
   */
  async #startAfterNewest(client: pg.Client): Promise<string | null> {
    try {
      const newest = await client.query<{ id: string }>(`SELECT coalesce(max(id), 0)::text AS id FROM ${quoteTable(this.#settings.outbox)}`)
      this.#delivered.startAfter(BigInt(newest.rows[0]?.id ?? '0'))
      return null
    } catch (err) {
      // SQLSTATE class 42: a missing table or a missing privilege. Anything else is the connection's problem.
      if (!String((err as { code?: unknown }).code).startsWith('42')) throw err
      const problem = `outbox ${this.#settings.outbox}: ${(err as Error).message}`
      this.#log?.warn({ outbox: this.#settings.outbox, problem }, 'cannot read the outbox table: no event is delivered until it can (docs/postgres.md)')
      return problem
    }
  }

  /**
   * After a lost connection: the rows written while the source was not listening (above the
   * newest row it had seen, at most `max_queue`) are read and delivered as if notified, so a
   * database restart, failover or pg_terminate_backend loses no event this instance had not
   * yet delivered. A row that commits out of id order with an id at or below that newest row
   * is still missed (docs/postgres.md).
   */
  async #catchUp(client: pg.Client): Promise<void> {
    const after = this.#delivered.highest
    let ids: bigint[]
    try {
      const sql = `SELECT id::text AS id FROM ${quoteTable(this.#settings.outbox)} WHERE id > $1 ORDER BY id LIMIT $2`
      ids = (await client.query<{ id: string }>(sql, [after.toString(), this.#settings.max_queue])).rows.map((row) => BigInt(row.id))
    } catch (err) {
      // An outbox that became unreadable is reported, as at the first connect; anything else is the connection's problem.
      if (!String((err as { code?: unknown }).code).startsWith('42')) throw err
      this.#log?.warn({ outbox: this.#settings.outbox, problem: (err as Error).message }, 'cannot read the outbox table: rows written while the connection was lost are not delivered')
      return
    }
    this.#caughtUp = new Set(ids)
    if (ids.length > 0) this.#log?.info({ after: after.toString(), rows: ids.length }, 'reading the rows written while the connection was lost')
    this.#enqueue(ids)
  }

  /** The LISTEN connection failed or ended: drop it and retry after a capped, doubling wait. */
  #lost(client: pg.Client, err: unknown): void {
    if (this.#client !== client || this.#state === 'stopped') return
    this.#client = null
    this.#backendPid = null
    client.removeAllListeners('notification')
    client.on('error', () => {})
    client.end().catch(() => {})
    this.#lastError = err instanceof Error ? err.message : 'connection ended'
    const { reconnect_min: min, reconnect_max: max } = this.#settings
    const delay = Math.min(max, min * 2 ** this.#attempt)
    this.#attempt++
    this.#counts.reconnects++
    this.#setState('reconnecting')
    this.#log?.warn({ err: this.#lastError, retryInSeconds: delay }, 'PostgreSQL LISTEN connection lost')
    this.#retry = setTimeout(() => {
      this.#retry = null
      void this.#connect()
    }, delay * 1000)
  }

  #reject(reason: Rejection, detail: JsonObject): void {
    this.#rejected.set(reason, (this.#rejected.get(reason) ?? 0) + 1)
    this.#log?.warn({ reason, ...detail }, 'notification not delivered')
    this.emit('rejected', reason)
  }

  #onNotification(text: string): void {
    this.#counts.received++
    const parsed = parseNotification(text)
    if (!parsed.ok) return this.#reject('not_id', { problem: parsed.reason, payload: text.slice(0, 100) })
    if (this.#queue.length >= this.#settings.max_queue) return this.#reject('queue_full', { id: parsed.id.toString() })
    this.#enqueue([parsed.id])
  }

  #enqueue(ids: bigint[]): void {
    if (ids.length === 0) return
    this.#queue.push(...ids)
    if (this.#draining) return
    this.#draining = true
    // After the current read from the socket: the notifications of one commit go in one query.
    queueMicrotask(() => void this.#drain())
  }

  /** Reads the named rows in batches, one query each, and delivers them in the order they were notified. */
  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) await this.#readBatch(this.#queue.splice(0, READ_BATCH))
    } finally {
      this.#draining = false
    }
  }

  async #readBatch(ids: bigint[]): Promise<void> {
    const client = this.#client
    if (client === null) return ids.forEach((id) => this.#reject('read_failed', { id: id.toString(), problem: 'not connected' }))
    let rows: unknown[]
    try {
      const sql = `SELECT id::text AS id, channel, event, data FROM ${quoteTable(this.#settings.outbox)} WHERE id = ANY($1::bigint[])`
      rows = (await client.query(sql, [ids.map(String)])).rows
    } catch (err) {
      return ids.forEach((id) => this.#reject('read_failed', { id: id.toString(), problem: (err as Error).message }))
    }
    const byId = new Map(rows.map((row) => [(row as { id?: unknown }).id, row]))
    for (const id of ids) {
      const row = byId.get(id.toString())
      // Forged, rolled back or deleted: nothing to deliver. Not remembered, so a forged id cannot block its genuine row.
      if (row === undefined) this.#reject('missing', { id: id.toString() })
      else if (!this.#delivered.admit(id)) {
        // The catch-up and a notification both named this row: the second copy is no replay.
        if (!this.#caughtUp.delete(id)) this.#reject('replayed', { id: id.toString() })
      }
      else {
        const event = parseOutboxRow(row)
        if (event === null) this.#reject('bad_row', { id: id.toString() })
        else this.#deliver(event.channel, event.event, event.data)
      }
    }
  }

  #deliver(channel: string, event: string, data: unknown): void {
    try {
      this.#sink?.publishLocal(channel, event, data)
      this.#counts.delivered++
      this.emit('delivered', event)
    } catch (err) {
      // Not a client's fault when it is not an AppError: say so louder, but a notification never crashes the service.
      if (!(err instanceof AppError)) this.#log?.error({ err, event }, 'delivering a notification failed')
      const code = err instanceof AppError ? err.code : 'SERVER_ERROR'
      this.#reject('refused', { code, problem: (err as Error).message, channel: channel.slice(0, 200), event: event.slice(0, 100) })
    }
  }
}
