import { DEV_TOKEN_SECRET, signHmacToken } from '../auth/hmac-token.js'
import { signToken } from '../auth/jwt.js'
import { envKey, type Settings } from '../config/settings.js'
import { parseCommand } from './options.js'
import { serviceArg, UsageError } from './usage.js'

/** What `roomcast token` needs from the CLI: the services and their settings as the server loads them. */
export interface TokenContext {
  readonly services: readonly string[]
  /** The service's settings: its file (or `file`), then the environment — the server's own sources. */
  settingsOf(service: string, file: string | undefined): Settings
  /** The settings file the service reads (`file` when given). */
  fileOf(service: string, file: string | undefined): string
  /** The wire dialect of a service (`envelope` or `flat`). */
  dialectOf(service: string): string
}

interface TokenOptions {
  readonly service: string | undefined
  readonly dialect: 'envelope' | 'flat'
  /** `--user` (envelope) or `--agent` (flat). */
  readonly user: string
  readonly session: string | undefined
  readonly permissions: readonly string[]
  readonly ttl: number
  readonly secret: string | undefined
  readonly settings: string | undefined
}

function parse(args: string[], ctx: TokenContext): TokenOptions {
  const { values, positionals } = parseCommand('token', args, {
    dialect: { type: 'string' },
    user: { type: 'string' },
    agent: { type: 'string' },
    session: { type: 'string' },
    permissions: { type: 'string' },
    secret: { type: 'string' },
    ttl: { type: 'string' },
    settings: { type: 'string' },
  })
  const service = positionals[0] === undefined ? undefined : serviceArg('token', positionals[0], ctx.services)
  const dialect = values.dialect ?? (service === undefined ? 'envelope' : ctx.dialectOf(service))
  if (dialect !== 'envelope' && dialect !== 'flat') throw new UsageError(`--dialect: expected envelope or flat, got ${JSON.stringify(values.dialect)}`)
  const ttl = values.ttl === undefined ? 3600 : Number(values.ttl)
  if (!Number.isInteger(ttl) || ttl <= 0) throw new UsageError(`--ttl: expected a positive number of seconds, got ${JSON.stringify(values.ttl)}`)
  const permissions = (values.permissions ?? '').split(',').filter((p) => p.length > 0)
  const base = { service, dialect, ttl, permissions, secret: values.secret, settings: values.settings } as const
  if (dialect === 'flat') {
    if (values.agent === undefined || values.agent === '') throw new UsageError('roomcast token --dialect flat: --agent ID is required')
    if (values.user !== undefined || values.permissions !== undefined) throw new UsageError('roomcast token --dialect flat: use --agent (and --session), not --user or --permissions')
    return { ...base, user: values.agent, session: values.session === '' ? undefined : values.session }
  }
  if (values.agent !== undefined || values.session !== undefined) throw new UsageError('roomcast token: --agent and --session are for --dialect flat')
  if (values.user === undefined || values.user === '') throw new UsageError('roomcast token: --user ID is required')
  return { ...base, user: values.user, session: undefined }
}

/**
 * The HMAC secret of flat tokens: `--secret`, else the service's `auth.token_secret` (env
 * WS_AUTH_SECRET), else WS_AUTH_SECRET, else the development default (said on stderr).
 */
function flatSecret(opts: TokenOptions, ctx: TokenContext): string {
  if (opts.secret !== undefined) return opts.secret
  if (opts.service !== undefined) return ctx.settingsOf(opts.service, opts.settings).auth.token_secret
  const env = process.env.WS_AUTH_SECRET
  if (env !== undefined && env !== '') return env
  console.error(`roomcast token: signed with the development secret "${DEV_TOKEN_SECRET}" (set WS_AUTH_SECRET or name the service)`)
  return DEV_TOKEN_SECRET
}

/**
 * The HS256 secret the service's server verifies with: `<SERVICE>_JWT_SECRET`, else `auth.secret`
 * of its settings. `--secret` wins; the old `ROOMCAST_JWT_SECRET` still works, with a note.
 */
function jwtSecret(opts: TokenOptions, ctx: TokenContext): string {
  if (opts.secret !== undefined) return opts.secret
  if (opts.service !== undefined) {
    const secret = ctx.settingsOf(opts.service, opts.settings).auth.secret
    if (secret !== null) return secret
  }
  const legacy = process.env.ROOMCAST_JWT_SECRET
  if (legacy !== undefined && legacy !== '') {
    console.error('roomcast token: ROOMCAST_JWT_SECRET is deprecated; use `roomcast token <service>`, which reads the server\'s own <SERVICE>_JWT_SECRET or auth.secret')
    return legacy
  }
  if (opts.service === undefined) throw new UsageError(`roomcast token: missing the service name (one of ${ctx.services.join(', ')}), whose secret signs the token`)
  const where = ctx.fileOf(opts.service, opts.settings)
  throw new UsageError(`roomcast token: no JWT secret for ${opts.service}: set ${envKey(opts.service)}_JWT_SECRET or auth.secret in ${where}, or pass --secret S`)
}

/** `roomcast token`: prints a token the service accepts, and nothing else on stdout. */
export async function token(args: string[], ctx: TokenContext): Promise<number> {
  const opts = parse(args, ctx)
  if (opts.dialect === 'flat') {
    console.log(signHmacToken({ agentId: opts.user, sessionId: opts.session ?? null }, flatSecret(opts, ctx), opts.ttl))
    return 0
  }
  console.log(await signToken({ userId: opts.user, permissions: opts.permissions }, jwtSecret(opts, ctx), opts.ttl))
  return 0
}
