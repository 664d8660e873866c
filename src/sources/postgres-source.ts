import { EventEmitter } from 'node:events'
import pg from 'pg'
import type { Logger } from 'pino'
import type { Settings } from '../config/settings.js'
import { AppError } from '../protocol/codes.js'
import type { JsonObject } from '../protocol/messages.js'
import type { ServerPlugin } from '../server/plugin.js'
import type { ServerView } from '../server/server-view.js'
import { type NotifyPayload, parseNotification, quoteTable } from './notify-payload.js'

/** Where the source delivers: this instance's own subscribers only (never re-broadcast over Redis). */
export interface LocalPublisher {
  /** Validates like a publish (channel, event, payload) and delivers locally; throws AppError when refused. */
  publishLocal(channel: unknown, event: unknown, data: unknown): unknown
}

export type SourceState = 'off' | 'connecting' | 'listening' | 'reconnecting' | 'stopped'

/** Why a notification was not delivered; each has its own counter. */
export type Rejection = 'not_json' | 'bad_shape' | 'refused' | 'ref_not_allowed' | 'ref_missing' | 'ref_failed' | 'queue_full'

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

/**
 * PostgreSQL LISTEN/NOTIFY as an event source (docs/protocol.md B), a server plugin: a
 * dedicated client LISTENs on `postgres.channel`; each notification is validated and delivered
 * like a publish to this instance's clients. A lost connection is retried with capped
 * exponential backoff and LISTEN re-issued. Emits `state` on every state change.
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
  readonly #queue: NotifyPayload[] = []
  #draining = false
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
    const client = new pg.Client({ connectionString: this.#settings.url ?? undefined, application_name: this.#appName, keepAlive: true })
    this.#client = client
    // Listeners before the first await: a connection lost at any point ends here.
    client.on('error', (err) => this.#lost(client, err))
    client.on('end', () => this.#lost(client, null))
    client.on('notification', (msg) => {
      if (msg.channel === this.#settings.channel) this.#onNotification(msg.payload ?? '')
    })
    try {
      await client.connect()
      await client.query(`LISTEN "${this.#settings.channel}"`)
      const pid = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
      if (this.#client !== client) return
      this.#backendPid = pid.rows[0]?.pid ?? null
      this.#attempt = 0
      this.#lastError = null
      this.#setState('listening')
      this.#log?.info({ channel: this.#settings.channel, pid: this.#backendPid }, 'listening for notifications')
    } catch (err) {
      this.#lost(client, err)
    }
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
    if (!parsed.ok) {
      this.#reject(parsed.reason === 'payload is not JSON' ? 'not_json' : 'bad_shape', { problem: parsed.reason, payload: text.slice(0, 200) })
      return
    }
    // Inline events go out at once unless a by-reference lookup is in flight: they wait behind it, in order.
    if (!this.#draining && parsed.value.kind === 'inline') return this.#deliver(parsed.value.channel, parsed.value.event, parsed.value.data)
    if (this.#queue.length >= this.#settings.max_queue) return this.#reject('queue_full', { event: parsed.value.event })
    this.#queue.push(parsed.value)
    if (!this.#draining) void this.#drain()
  }

  async #drain(): Promise<void> {
    this.#draining = true
    try {
      for (let next = this.#queue.shift(); next !== undefined; next = this.#queue.shift()) {
        if (next.kind === 'inline') this.#deliver(next.channel, next.event, next.data)
        else await this.#resolve(next)
      }
    } finally {
      this.#draining = false
    }
  }

  /** One parameterised SELECT on an allow-listed table; the table name is never taken from a client unchecked. */
  async #resolve(ref: Extract<NotifyPayload, { kind: 'ref' }>): Promise<void> {
    if (!this.#settings.ref_tables.includes(ref.table)) return this.#reject('ref_not_allowed', { table: ref.table.slice(0, 130) })
    const client = this.#client
    if (client === null) return this.#reject('ref_failed', { table: ref.table, id: ref.id, problem: 'not connected' })
    let rows: { data: unknown }[]
    try {
      rows = (await client.query<{ data: unknown }>(`SELECT data FROM ${quoteTable(ref.table)} WHERE id = $1`, [ref.id])).rows
    } catch (err) {
      return this.#reject('ref_failed', { table: ref.table, id: ref.id, problem: (err as Error).message })
    }
    if (rows.length === 0) return this.#reject('ref_missing', { table: ref.table, id: ref.id })
    this.#deliver(ref.channel, ref.event, rows[0]?.data)
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
