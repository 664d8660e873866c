import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { DEV_TOKEN_SECRET } from '../auth/hmac-token.js'
import { patternsOverlap } from '../broker/history-channels.js'
import { MAX_CHANNEL_LENGTH } from '../protocol/channels.js'
import { DeliverySettingsSchema } from '../delivery/delivery-settings.js'
import { DeclaredServiceSchema } from './service-declaration.js'
import { describeIssues, yamlProblem } from './settings-problems.js'

const seconds = (def: number) => z.number().positive().default(def)
// Lowercase on purpose: an unquoted identifier is folded to lowercase by PostgreSQL, so a
// channel or table written here means the same thing in the SQL a user writes by hand.
/** `host:port` (a bracketed IPv6 host too). */
const HOST_PORT = /^(\[[^\]]+\]|[^\s:/,[\]]+):\d{1,5}$/

/** The nodes of a `redis+cluster://h1:p1,h2:p2` URL; null when it is not one. */
function clusterUrlNodes(url: string): string[] | null {
  const m = /^redis\+cluster:\/\/([^/?#]+)\/?$/.exec(url)
  if (m === null) return null
  const nodes = (m[1] ?? '').split(',')
  return nodes.every((n) => HOST_PORT.test(n)) ? nodes : null
}

const PG_IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/
const PG_TABLE = /^([a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,62}$/

/** A browser origin exactly as browsers send it (no path, no trailing slash), or "*". */
const OriginSchema = z
  .string()
  .refine((o) => o === '*' || (URL.canParse(o) && new URL(o).origin === o), 'expected an origin like https://app.example.com (scheme://host[:port], no path) or "*"')

/** One `history` entry: the channels (a pattern of the service) that keep a stream, and its bounds. */
const HistoryEntrySchema = z
  .object({
    /** A channel pattern of the service (`workflow:{id}`, `workflow:*`) or one channel. */
    channel: z.string().min(1).max(MAX_CHANNEL_LENGTH),
    /** Most publications kept per channel. @default 100 */
    size: z.number().int().positive().max(100_000).default(100),
    /** Seconds publications are kept after the channel's last publication. @default 300 */
    ttl: seconds(300),
    /** Seconds the stream's epoch and top offset are kept after the last publication or subscribe. @default 86400 */
    position_ttl: seconds(86_400),
  })
  .strict()
  .refine((e) => e.position_ttl >= e.ttl, { message: 'position_ttl must be at least ttl', path: ['position_ttl'] })

/** A channel must belong to at most one history entry: overlapping patterns are refused at boot. */
const HistorySchema = z
  .array(HistoryEntrySchema)
  .default([])
  .superRefine((entries, ctx) => {
    entries.forEach((e, i) => {
      const earlier = entries.findIndex((o, j) => j < i && patternsOverlap(o.channel, e.channel))
      if (earlier >= 0) {
        ctx.addIssue({ code: 'custom', path: [i, 'channel'], message: `${e.channel} overlaps history.${earlier}.channel (${entries[earlier]?.channel}): a channel may keep one history` })
      }
    })
  })

/** One `presence` entry: the channels (a pattern of the service) whose members everyone may list. */
const PresenceEntrySchema = z
  .object({
    /** A channel pattern of the service (`sessions/{id}`, `topics/*`) or one channel. */
    channel: z.string().min(1).max(MAX_CHANNEL_LENGTH),
    /** Whether subscribers get `join` and `leave` events. @default false */
    join_leave: z.boolean().default(false),
  })
  .strict()

/** A channel must belong to at most one presence entry. */
const PresenceSchema = z
  .array(PresenceEntrySchema)
  .default([])
  .superRefine((entries, ctx) => {
    entries.forEach((e, i) => {
      const earlier = entries.findIndex((o, j) => j < i && patternsOverlap(o.channel, e.channel))
      if (earlier >= 0) {
        ctx.addIssue({ code: 'custom', path: [i, 'channel'], message: `${e.channel} overlaps presence.${earlier}.channel (${entries[earlier]?.channel}): a channel has one presence rule` })
      }
    })
  })

/** Most workers a service may ask for: 4 × the cores (more only adds switching between them). */
export function maxWorkers(): number {
  return 4 * availableParallelism()
}

/** `workers`: a whole number from 1 to 4 × the cores, or `auto` (one per core). */
const WorkersSchema = z
  .union([z.literal('auto'), z.number()], { error: 'expected a whole number of workers (1, 2, …) or auto' })
  .default(1)
  .superRefine((w, ctx) => {
    if (w === 'auto') return
    if (!Number.isInteger(w)) ctx.addIssue({ code: 'custom', message: 'expected a whole number of workers (1, 2, …) or auto' })
    else if (w < 1) ctx.addIssue({ code: 'custom', message: 'expected at least 1 worker (1 is one process), or auto' })
    else if (w > maxWorkers()) ctx.addIssue({ code: 'custom', message: `expected at most 4 × the cores (${maxWorkers()} here), or auto` })
  })

/** The number of worker processes `workers` asks for (`auto`: one per core). */
export function workerCount(settings: Pick<Settings, 'workers'>): number {
  return settings.workers === 'auto' ? availableParallelism() : settings.workers
}

/** Settings of one service, validated once at boot. Times are in seconds. */
export const SettingsSchema = z
  .object({
    /** Whether `serve all` starts this service. @default true */
    enabled: z.boolean().default(true),
    host: z.string().min(1).default('127.0.0.1'),
    /** WebSocket + HTTP port; 0 picks a free port. */
    port: z.number().int().min(0).max(65535).default(0),
    /** Processes serving the port (docs/scaling.md): 1 is one process; N or `auto` (one per core) is a primary and N workers. @default 1 */
    workers: WorkersSchema,
    /**
     * How workers take new connections (docs/scaling.md): `round-robin`, the primary accepts each
     * and hands it to the next worker; `shared`, every worker accepts from the one listening socket
     * (no hop through the primary; the kernel and the workers' own pace decide the spread).
     * @default shared
     */
    workers_accept: z.enum(['round-robin', 'shared']).default('shared'),
    max_connections: z.number().int().positive().default(1000),
    /** Connections held at once from one client address (the forwarded one with trust_proxy); more are answered 429 before the handshake. @default 100 */
    max_connections_per_ip: z.number().int().positive().default(100),
    /** Frames per second per connection; the bucket holds 1.5× this. @default 100 */
    message_rate_limit: z.number().positive().default(100),
    /** Inbound bytes per second per connection; the bucket holds 1.5× this (a larger frame needs it full). @default 65536 */
    byte_rate_limit: z.number().int().positive().default(64 * 1024),
    /** Most object keys in one inbound frame (every level), counted before it is parsed. @default 2000 */
    max_frame_keys: z.number().int().positive().default(2000),
    /** Most array elements in one inbound frame (every level), counted before it is parsed. @default 100000 */
    max_frame_elements: z.number().int().positive().default(100_000),
    ping_interval: seconds(20),
    ping_timeout: seconds(20),
    /** Largest inbound frame in bytes; larger closes with 1009. @default 1 MiB */
    max_payload: z.number().int().positive().default(1024 * 1024),
    /** Outbound buffer per connection before it is cut as a slow consumer (4008, docs/errors.md). @default 1 MiB */
    max_buffered_bytes: z.number().int().positive().default(1024 * 1024),
    max_subscriptions: z.number().int().positive().default(100),
    /** Bearer key for every protected HTTP route and MCP; without it only loopback callers may use them. */
    api_key: z.string().min(8).nullable().default(null),
    /** Browser origins (`scheme://host[:port]`, or "*") accepted besides loopback and same-IP pages. @default [] */
    allowed_origins: z.array(OriginSchema).default([]),
    /** Whether X-Forwarded-For / X-Forwarded-Proto from the peer are believed (only behind a proxy you run). @default false */
    trust_proxy: z.boolean().default(false),
    /** Seconds an HTTP request (headers and body) may take to arrive before 408 and close. @default 10 */
    http_request_timeout: seconds(10),
    /** PEM files (paths) to serve https and wss on the port; null serves plain http and ws. @default null */
    tls: z.object({ cert: z.string().min(1), key: z.string().min(1) }).strict().nullable().default(null),
    /** Whether anonymous connections may publish over the socket. @default false */
    allow_client_publish: z.boolean().default(false),
    /** How long shutdown waits for clients to close after 1001 before terminating them. */
    drain_timeout: seconds(5),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Log lines of `roomcast serve`: `auto` is readable on a terminal, JSON otherwise (env LOG_FORMAT). */
    log_format: z.enum(['auto', 'json', 'pretty']).default('auto'),
    /** `production` (env NODE_ENV=production) locks the service: publishing and reading beyond public_channels need a verified identity. */
    environment: z.enum(['development', 'production']).default('development'),
    /** Channel patterns a connection without a verified identity may read on a locked service (production or auth.required). @default [] */
    public_channels: z.array(z.string().min(1).max(MAX_CHANNEL_LENGTH)).max(1000).default([]),
    auth: z
      .object({
        required: z.boolean().default(false),
        /** HS256 secret; env `<SERVICE>_JWT_SECRET` overrides. */
        secret: z.string().min(16).nullable().default(null),
        timeout: seconds(10),
        /** Seconds before a token's exp that an open connection is warned (at most half the lifetime left at auth). @default 30 */
        expiry_warning: seconds(30),
        /** HMAC-SHA256 secret of flat-dialect tokens (env WS_AUTH_SECRET); refused in production while it is the default. */
        token_secret: z.string().default(DEV_TOKEN_SECRET),
      })
      .strict()
      .prefault({}),
    /** Keepalive of the flat dialect: app-level `{"type":"ping"}` frames instead of WebSocket pings. */
    flat: z
      .object({
        /** Seconds between the server's `{"type":"ping"}` frames. @default 30 */
        ping_interval: seconds(30),
        /** Seconds of client silence before close 4000 `Heartbeat timeout`. @default 60 */
        heartbeat_timeout: seconds(60),
      })
      .strict()
      .prefault({}),
    mcp: z
      .object({
        enabled: z.boolean().default(true),
        /** MCP HTTP port; null means ws port − 10 (0 when the ws port is 0). */
        port: z.number().int().min(0).max(65535).nullable().default(null),
      })
      .strict()
      .prefault({}),
    /** Channels that keep history for recovery (docs/protocol.md A.8). @default [] */
    history: HistorySchema,
    /** Channels whose members can be listed, cluster-wide, and which may send join/leave events. @default [] */
    presence: PresenceSchema,
    redis: z
      .object({
        /**
         * `redis://[:password@]host:port/db`; null = embedded in-memory broker. A
         * `redis+cluster://h1:p1,h2:p2` URL is read as `cluster: [h1:p1, h2:p2]`.
         */
        url: z
          .string()
          .refine(
            (u) => clusterUrlNodes(u) !== null || (URL.canParse(u) && /^rediss?:$/.test(new URL(u).protocol)),
            'expected redis://[:password@]host:port/db or redis+cluster://host:port,host:port',
          )
          .nullable()
          .default(null),
        /** Start nodes of a Redis Cluster, `host:port` each (env REDIS_CLUSTER_NODES, comma-separated); null = not a cluster. */
        cluster: z.array(z.string().regex(HOST_PORT, 'expected host:port')).min(1).nullable().default(null),
        /** Prefix of every Redis channel name (env REDIS_PUBSUB_PREFIX). */
        prefix: z.string().default('roomcast:'),
      })
      .strict()
      .refine((r) => r.cluster === null || r.url === null, { message: 'set redis.url or redis.cluster, not both', path: ['cluster'] })
      .transform((r) => {
        const nodes = r.url === null ? null : clusterUrlNodes(r.url)
        return nodes === null ? r : { ...r, url: null, cluster: nodes }
      })
      .prefault({}),
    postgres: z
      .object({
        /** `postgres://user@host:port/db` of the LISTEN/NOTIFY event source (env DATABASE_URL); null = off. */
        url: z
          .string()
          .refine((u) => URL.canParse(u) && /^postgres(ql)?:$/.test(new URL(u).protocol), 'expected postgres://user[:password]@host:port/database')
          .nullable()
          .default(null),
        /** The NOTIFY channel listened on. */
        channel: z.string().regex(PG_IDENTIFIER, 'expected a PostgreSQL identifier (letters, digits, _)').default('roomcast_events'),
        /** Table the events are read from (`id`, `channel`, `event`, `data`); a notification only names one of its rows. */
        outbox: z.string().regex(PG_TABLE, 'expected a table name: identifier or schema.identifier').default('roomcast_outbox'),
        /** Removed: a notification no longer carries an event or names a table (docs/postgres.md). */
        ref_tables: z
          .unknown()
          .refine((v) => v === undefined, 'removed: a NOTIFY payload is not trusted; events come from the postgres.outbox table (docs/postgres.md)')
          .optional(),
        /** First and longest wait before reconnecting after the LISTEN connection is lost (doubling in between). */
        reconnect_min: seconds(0.5),
        reconnect_max: seconds(30),
        /** Notifications waiting for their outbox row to be read; more are dropped and counted. */
        max_queue: z.number().int().positive().default(10_000),
      })
      .strict()
      .prefault({}),
    context: z
      .object({
        /** How long an agent's subscriptions are kept for its next connection (flat dialect). */
        restore_ttl: seconds(600),
        /** Agents whose subscriptions one process keeps without Redis; the least recently saved goes first. */
        restore_max_agents: z.number().int().positive().default(10_000),
        /** Seconds between metric.update snapshots on the metrics channel. */
        metrics_interval: seconds(5),
      })
      .strict()
      .prefault({}),
    /** At-least-once delivery of tracked events (docs/protocol.md A.8); off unless `delivery.tracked` names events. */
    delivery: DeliverySettingsSchema,
    workspace: z
      .object({
        /** Directory the file and git sources watch (`roomcast serve workspace --root DIR`); null = sources off. */
        root: z.string().min(1).nullable().default(null),
        /** Patterns the file watcher skips besides .git and node_modules: `dist`, `*.log` (any segment), `build/out` (from the root). */
        ignore: z.array(z.string().min(1)).max(1000).default([]),
        /** Seconds file changes are coalesced before they are published (one window per burst). */
        debounce: seconds(0.1),
        /** Distinct paths one window publishes one by one; beyond it one files.overflow event carries the count. */
        max_pending: z.number().int().positive().default(1000),
        /** AI response streams whose chunk order is remembered; the least recently written is forgotten first. */
        max_ai_streams: z.number().int().positive().default(10_000),
      })
      .strict()
      .prefault({}),
    /** A service declared in this file alone, not in code (docs/configuration.md "Declaring a service"). @default null */
    service: DeclaredServiceSchema.nullable().default(null),
  })
  .strict()

export type Settings = Readonly<z.output<typeof SettingsSchema>>
export type SettingsInput = z.input<typeof SettingsSchema>

/** Settings could not be read or are invalid; `problems` lists every one of them. */
export class SettingsError extends Error {
  readonly problems: readonly string[]
  constructor(source: string, problems: readonly string[]) {
    super(`Invalid settings (${source}):\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'SettingsError'
    this.problems = problems
  }
}

function freeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) freeze(v)
    Object.freeze(value)
  }
  return value
}

/** A service's own rule over valid settings (e.g. no development secret in production): one problem per line, `key: why`. */
export type SettingsCheck = (settings: Settings) => readonly string[]

/** `raw` without the keys the schema refused (so they take their defaults), or null when that is not possible. */
function withoutRefused(raw: unknown, issues: readonly z.core.$ZodIssue[]): unknown {
  const copy = structuredClone(raw ?? {}) as Record<string, unknown>
  for (const issue of issues) {
    const paths = issue.code === 'unrecognized_keys' ? issue.keys.map((k) => [...issue.path, k]) : [issue.path]
    for (const path of paths) {
      if (path.length === 0) return null
      let at: unknown = copy
      for (const key of path.slice(0, -1)) at = typeof at === 'object' && at !== null ? (at as Record<PropertyKey, unknown>)[key as PropertyKey] : undefined
      if (typeof at === 'object' && at !== null) delete (at as Record<PropertyKey, unknown>)[path.at(-1) as PropertyKey]
    }
  }
  return copy
}

/**
 * The checks' problems, also when the schema refused something: they run on the settings with the
 * refused keys at their defaults, so one report lists everything; a key already reported is skipped.
 */
function checkProblems(raw: unknown, result: z.ZodSafeParseResult<z.output<typeof SettingsSchema>>, checks: readonly SettingsCheck[]): string[] {
  if (checks.length === 0) return []
  if (result.success) return checks.flatMap((check) => check(result.data))
  const rest = withoutRefused(raw, result.error.issues)
  const retry = rest === null ? null : SettingsSchema.safeParse(rest)
  if (retry === null || !retry.success) return []
  const reported = new Set(result.error.issues.map((i) => i.path.join('.')))
  return checks.flatMap((check) => check(retry.data)).filter((p) => !reported.has(p.split(':')[0] ?? ''))
}

/** Validates raw settings; `earlier` are problems already found (e.g. in the environment), listed first. */
function validate(raw: unknown, source: string, earlier: readonly string[] = [], checks: readonly SettingsCheck[] = []): Settings {
  const result = SettingsSchema.safeParse(raw ?? {})
  const problems = [
    ...earlier,
    ...(result.success ? [] : result.error.issues.flatMap((i) => describeIssues(i, raw ?? {}, SettingsSchema))),
    ...checkProblems(raw, result, checks),
  ]
  if (problems.length > 0 || !result.success) throw new SettingsError(source, problems)
  return freeze(result.data)
}

/** A service name as it appears in environment variable names: `workflow` → `WORKFLOW`. */
export function envKey(service: string): string {
  return service.toUpperCase().replace(/[^A-Z0-9]/g, '_')
}

/** Validates raw settings, listing every problem at once. */
export function parseSettings(raw: unknown, source = 'settings', checks: readonly SettingsCheck[] = []): Settings {
  return validate(raw, source, [], checks)
}

function envInt(env: NodeJS.ProcessEnv, name: string, problems: string[]): number | undefined {
  const v = env[name]
  if (v === undefined || v === '') return undefined
  const n = Number(v)
  if (!Number.isInteger(n)) {
    problems.push(`${name}: expected an integer, got ${JSON.stringify(v)}`)
    return undefined
  }
  return n
}

/** Builds the redis URL from REDIS_URL, or REDIS_ADDR + REDIS_PASSWORD + REDIS_DB. */
function redisUrlFromEnv(env: NodeJS.ProcessEnv, problems: string[]): string | undefined {
  if (env.REDIS_URL) return env.REDIS_URL
  if (!env.REDIS_ADDR) return undefined
  if (!/^[^\s:/]+:\d{1,5}$/.test(env.REDIS_ADDR)) {
    problems.push(`REDIS_ADDR: expected host:port, got ${JSON.stringify(env.REDIS_ADDR)}`)
    return undefined
  }
  const db = envInt(env, 'REDIS_DB', problems) ?? 0
  const auth = env.REDIS_PASSWORD ? `:${encodeURIComponent(env.REDIS_PASSWORD)}@` : ''
  return `redis://${auth}${env.REDIS_ADDR}/${db}`
}

export interface LoadOptions {
  /** Service name, used for `ROOMCAST_<SERVICE>_PORT` and `<SERVICE>_JWT_SECRET`. */
  readonly service: string
  /**
   * The service's own defaults beneath the file (its well-known port, what makes it the service it
   * is): a section the file names keeps the keys the file leaves out (`delivery.ack_timeout` alone
   * keeps the service's `delivery.tracked`); only a key the file writes changes one.
   */
  readonly defaults?: Partial<SettingsInput>
  /** YAML file; a missing file means all defaults, unless `fileRequired`. */
  readonly file?: string
  /** The file was named by the user (`--settings FILE`): a missing one is a problem, not defaults. */
  readonly fileRequired?: boolean
  /** Settings that win over the file and the environment (CLI flags). */
  readonly overrides?: Partial<SettingsInput>
  readonly env?: NodeJS.ProcessEnv
  /** The service's own rules, run on the validated settings; their problems are listed with the file's. */
  readonly checks?: readonly SettingsCheck[]
  /** Extra environment names for the port and host (context: `WS_PORT`, `HOST`), below `ROOMCAST_<SERVICE>_*`. */
  readonly envAliases?: { readonly port?: string; readonly host?: string }
}

/** `ROOMCAST_<SERVICE>_WORKERS` or `ROOMCAST_WORKERS`: `auto` or a number (the schema checks its range). */
function envWorkers(env: NodeJS.ProcessEnv, key: string, problems: string[]): number | 'auto' | undefined {
  for (const name of [`ROOMCAST_${key}_WORKERS`, 'ROOMCAST_WORKERS']) {
    const v = env[name]
    if (v === undefined || v === '') continue
    if (v === 'auto') return 'auto'
    const n = Number(v)
    if (/^\s*$/.test(v) || Number.isNaN(n)) {
      problems.push(`${name}: expected a number of workers or auto, got ${JSON.stringify(v)}`)
      return undefined
    }
    return n
  }
  return undefined
}

const isSection = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** A file's value over the service's default of the same key: a section keeps the default keys the file leaves out. */
function underFile(fallback: unknown, value: unknown): unknown {
  if (!isSection(fallback) || !isSection(value)) return value
  const merged: Record<string, unknown> = { ...fallback }
  for (const [k, v] of Object.entries(value)) Object.defineProperty(merged, k, { value: v, enumerable: true, writable: true, configurable: true })
  return merged
}

/**
 * Reads a service's settings: built-in defaults ← the service's own ← YAML file ← environment ← overrides.
 * Environment: `ROOMCAST_<SERVICE>_PORT`, `ROOMCAST_<SERVICE>_HOST` (or `ROOMCAST_HOST`),
 * `ROOMCAST_<SERVICE>_WORKERS` (or `ROOMCAST_WORKERS`),
 * `<SERVICE>_JWT_SECRET`, `WS_AUTH_SECRET`, `NODE_ENV`, `LOG_FORMAT`, `DATABASE_URL`, `REDIS_URL` | `REDIS_ADDR` + `REDIS_PASSWORD` + `REDIS_DB`,
 * `REDIS_PUBSUB_PREFIX`, `REDIS_CLUSTER_NODES`.
 */
export function loadSettings(opts: LoadOptions): Settings {
  const env = opts.env ?? process.env
  const source = opts.file ?? `defaults of ${opts.service}`
  const raw: Record<string, unknown> = { ...(opts.defaults ?? {}) }
  if (opts.file !== undefined) {
    let text: string | undefined
    try {
      text = readFileSync(opts.file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new SettingsError(source, [`cannot read file: ${(err as Error).message}`])
      }
      if (opts.fileRequired === true) throw new SettingsError(source, ['file not found'])
    }
    if (text !== undefined) {
      let doc: unknown
      try {
        doc = parseYaml(text)
      } catch (err) {
        throw new SettingsError(source, [yamlProblem(err, text)])
      }
      if (doc !== null && doc !== undefined && (typeof doc !== 'object' || Array.isArray(doc))) {
        throw new SettingsError(source, ['(root): expected a mapping of settings'])
      }
      // Defined, not assigned: assigning a `__proto__` key would set raw's prototype and let its keys in unchecked.
      for (const [k, v] of Object.entries(doc ?? {})) Object.defineProperty(raw, k, { value: underFile(raw[k], v), enumerable: true, writable: true, configurable: true })
    }
  }

  const problems: string[] = []
  const key = envKey(opts.service)
  const aliases = opts.envAliases ?? {}
  const port = envInt(env, `ROOMCAST_${key}_PORT`, problems) ?? (aliases.port === undefined ? undefined : envInt(env, aliases.port, problems))
  if (port !== undefined) raw.port = port
  const host = env[`ROOMCAST_${key}_HOST`] || env.ROOMCAST_HOST || (aliases.host === undefined ? undefined : env[aliases.host])
  if (host) raw.host = host
  const workers = envWorkers(env, key, problems)
  if (workers !== undefined) raw.workers = workers
  const secret = env[`${key}_JWT_SECRET`]
  const redisUrl = redisUrlFromEnv(env, problems)
  const redisPrefix = env.REDIS_PUBSUB_PREFIX
  const redisCluster = env.REDIS_CLUSTER_NODES ? env.REDIS_CLUSTER_NODES.split(',').map((n) => n.trim()) : undefined
  const obj = (v: unknown): Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {}
  if (secret) raw.auth = { ...obj(raw.auth), secret }
  if (env.DATABASE_URL) raw.postgres = { ...obj(raw.postgres), url: env.DATABASE_URL }
  // An empty WS_AUTH_SECRET is kept (not read as unset) so that the service's check refuses it.
  if (env.WS_AUTH_SECRET !== undefined) raw.auth = { ...obj(raw.auth), token_secret: env.WS_AUTH_SECRET }
  if (env.NODE_ENV === 'production' || env.NODE_ENV === 'development') raw.environment = env.NODE_ENV
  if (env.LOG_FORMAT) raw.log_format = env.LOG_FORMAT
  if (redisUrl !== undefined || redisPrefix !== undefined || redisCluster !== undefined) {
    raw.redis = {
      ...obj(raw.redis),
      ...(redisUrl !== undefined ? { url: redisUrl } : {}),
      ...(redisCluster !== undefined ? { cluster: redisCluster } : {}),
      ...(redisPrefix !== undefined ? { prefix: redisPrefix } : {}),
    }
  }
  // A section given on the command line (e.g. workspace.root from --root) keeps the file's other keys of that section.
  for (const [k, v] of Object.entries(opts.overrides ?? {})) raw[k] = typeof v === 'object' && v !== null && !Array.isArray(v) ? { ...obj(raw[k]), ...v } : v
  // One report for everything wrong: the environment's problems and the file's together.
  return validate(raw, problems.length > 0 ? `${source} and environment` : source, problems, opts.checks)
}
