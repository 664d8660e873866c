import { parseArgs } from 'node:util'
import { signToken } from '../auth/jwt.js'
import { envKey, type Settings } from '../config/settings.js'
import { serviceArg, UsageError } from './usage.js'

/** What `roomcast token` needs from the CLI: the services and their settings as the server loads them. */
export interface TokenContext {
  readonly services: readonly string[]
  /** The service's settings: its file (or `file`), then the environment — the server's own sources. */
  settingsOf(service: string, file: string | undefined): Settings
  /** The settings file the service reads (`file` when given). */
  fileOf(service: string, file: string | undefined): string
}

interface TokenOptions {
  readonly service: string | undefined
  readonly user: string
  readonly permissions: readonly string[]
  readonly ttl: number
  readonly secret: string | undefined
  readonly settings: string | undefined
}

function parse(args: string[], services: readonly string[]): TokenOptions {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      user: { type: 'string' },
      permissions: { type: 'string' },
      secret: { type: 'string' },
      ttl: { type: 'string' },
      settings: { type: 'string' },
    },
  })
  if (values.user === undefined || values.user === '') throw new UsageError('roomcast token: --user ID is required')
  const ttl = values.ttl === undefined ? 3600 : Number(values.ttl)
  if (!Number.isInteger(ttl) || ttl <= 0) throw new UsageError(`--ttl: expected a positive number of seconds, got ${JSON.stringify(values.ttl)}`)
  const service = positionals[0] === undefined ? undefined : serviceArg('token', positionals[0], services)
  const permissions = (values.permissions ?? '').split(',').filter((p) => p.length > 0)
  return { service, user: values.user, permissions, ttl, secret: values.secret, settings: values.settings }
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
  const opts = parse(args, ctx.services)
  console.log(await signToken({ userId: opts.user, permissions: opts.permissions }, jwtSecret(opts, ctx), opts.ttl))
  return 0
}
