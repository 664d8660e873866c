import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { pino } from 'pino'
import { SERVICES, serviceNames } from '../services/index.js'
import { signToken } from './auth/jwt.js'
import { loadSettings, SettingsError, type Settings, type SettingsInput } from './config/settings.js'
import type { WebSocketServer } from './server/websocket-server.js'
import { describeHealth, probeHealth } from './mcp/health-probe.js'
import { McpPlugin, mcpPortOf } from './mcp/mcp-plugin.js'
import type { RemoteTarget } from './mcp/remote.js'
import { checkStatus } from './mcp/status-check.js'
import { runStdioProxy } from './mcp/stdio-proxy.js'
import { MetricsPlugin } from './metrics/metrics-plugin.js'

/** The package root: the nearest folder above this file with a package.json (works from src/ and dist/src/). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir)
  return dir
}

const ROOT = packageRoot()

const USAGE = `Usage:
  roomcast serve <service|all> [--port N] [--host H] [--settings FILE]
  roomcast status <service> [--port N] [--mcp-port N] [--host H] [--settings FILE] [--timeout SECONDS]
  roomcast mcp <service> [--port N] [--mcp-port N] [--host H] [--settings FILE] [--timeout SECONDS]   (MCP over stdio)
  roomcast token --user ID [--permissions a,b] [--secret S] [--ttl SECONDS]

Services: ${serviceNames().join(', ')}
Settings: settings/<service>.yaml (or --settings FILE, or ROOMCAST_SETTINGS_DIR)`

function settingsFile(service: string, explicit: string | undefined): string {
  if (explicit !== undefined) return resolve(explicit)
  const dir = process.env.ROOMCAST_SETTINGS_DIR ?? join(ROOT, 'settings')
  return join(dir, `${service}.yaml`)
}

function intOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new SettingsError('command line', [`--${name}: expected a port number, got ${JSON.stringify(value)}`])
  return n
}

function unknownService(name: string | undefined): string {
  return `Unknown service ${JSON.stringify(name ?? '')}. Services: ${serviceNames().join(', ')}`
}

async function serve(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { port: { type: 'string' }, host: { type: 'string' }, settings: { type: 'string' } },
  })
  const target = positionals[0]
  const names = target === 'all' ? serviceNames() : [target ?? '']
  if (target !== 'all' && (target === undefined || !(target in SERVICES))) {
    console.error(unknownService(target))
    return 2
  }
  if (target === 'all' && (values.port !== undefined || values.settings !== undefined)) {
    console.error('--port and --settings apply to one service; use ROOMCAST_<SERVICE>_PORT with "serve all"')
    return 2
  }
  const overrides: Partial<SettingsInput> = {}
  const port = intOption(values.port, 'port')
  if (port !== undefined) overrides.port = port
  if (values.host !== undefined) overrides.host = values.host

  // Validate every service's settings before starting any, listing every problem.
  const loaded: { name: string; settings: Settings }[] = []
  const problems: string[] = []
  for (const name of names) {
    const entry = SERVICES[name]
    if (entry === undefined) continue
    try {
      const settings = loadSettings({
        service: name,
        file: settingsFile(name, values.settings),
        defaults: { port: entry.defaultPort },
        overrides,
      })
      if (target !== 'all' || settings.enabled) loaded.push({ name, settings })
    } catch (err) {
      if (!(err instanceof SettingsError)) throw err
      problems.push(err.message)
    }
  }
  if (problems.length > 0) {
    console.error(problems.join('\n'))
    return 1
  }

  const logger = pino({ level: loaded[0]?.settings.log_level ?? 'info' })
  const servers: WebSocketServer[] = []
  try {
    for (const { name, settings } of loaded) {
      const server = (SERVICES[name] as (typeof SERVICES)[string]).create(settings, { logger })
      server.use(new MetricsPlugin())
      if (settings.mcp.enabled) server.use(new McpPlugin())
      servers.push(server)
      await server.listen()
    }
  } catch (err) {
    logger.error({ err }, 'failed to start')
    await Promise.allSettled(servers.map((s) => s.close()))
    console.error(`roomcast: cannot start: ${(err as Error).message}`)
    return 1
  }

  return new Promise<number>((done) => {
    let stopping = false
    const stop = (signal: string) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting at once')
        process.exit(1)
      }
      stopping = true
      logger.info({ signal }, 'shutting down')
      Promise.allSettled(servers.map((s) => s.close())).then(() => done(0))
    }
    process.on('SIGTERM', () => stop('SIGTERM'))
    process.on('SIGINT', () => stop('SIGINT'))
  })
}

interface Target {
  readonly name: string
  readonly settings: Settings
  readonly host: string
  readonly port: number
  readonly mcp: RemoteTarget
  /** --timeout in ms, when given. */
  readonly timeoutMs: number | undefined
}

/** The running service a client command talks to: settings file, then --port/--mcp-port/--host. */
function targetOf(args: string[]): Target | string {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      'mcp-port': { type: 'string' },
      host: { type: 'string' },
      settings: { type: 'string' },
      timeout: { type: 'string' },
    },
  })
  const name = positionals[0]
  const entry = name === undefined ? undefined : SERVICES[name]
  if (entry === undefined || name === undefined) return unknownService(name)
  const timeout = values.timeout === undefined ? undefined : Number(values.timeout)
  if (timeout !== undefined && !(timeout > 0)) return `--timeout: expected a positive number of seconds, got ${JSON.stringify(values.timeout)}`
  const settings = loadSettings({ service: name, file: settingsFile(name, values.settings), defaults: { port: entry.defaultPort } })
  const port = intOption(values.port, 'port') ?? settings.port
  const host = values.host ?? settings.host
  const mcpPort = intOption(values['mcp-port'], 'mcp-port') ?? mcpPortOf({ port, mcp: settings.mcp })
  return { name, settings, host, port, mcp: { host, port: mcpPort, apiKey: settings.api_key }, timeoutMs: timeout === undefined ? undefined : timeout * 1000 }
}

async function status(args: string[]): Promise<number> {
  const target = targetOf(args)
  if (typeof target === 'string') {
    console.error(target)
    return 2
  }
  if (!target.settings.mcp.enabled) {
    console.log(`${target.name}: MCP is disabled in its settings (mcp.enabled: false); asking GET /health instead`)
    return httpStatus(target.name, target.host, target.port)
  }
  const report = await checkStatus(target.name, target.mcp, { host: target.host, port: target.port }, target.timeoutMs)
  console.log(report.line)
  return report.code
}

async function mcp(args: string[]): Promise<number> {
  const target = targetOf(args)
  if (typeof target === 'string') {
    console.error(target)
    return 2
  }
  await runStdioProxy(target.name, target.mcp, target.timeoutMs)
  return 0
}

async function httpStatus(name: string, host: string, port: number): Promise<number> {
  const report = describeHealth(name, host, port, await probeHealth(host, port, 5000))
  console.log(report.line)
  return report.code
}

async function token(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { user: { type: 'string' }, permissions: { type: 'string' }, secret: { type: 'string' }, ttl: { type: 'string' } },
  })
  const secret = values.secret ?? process.env.ROOMCAST_JWT_SECRET
  if (values.user === undefined || secret === undefined) {
    console.error('roomcast token needs --user and --secret (or ROOMCAST_JWT_SECRET)')
    return 2
  }
  const ttl = values.ttl === undefined ? 3600 : Number(values.ttl)
  if (!Number.isInteger(ttl) || ttl <= 0) {
    console.error(`--ttl: expected a positive number of seconds, got ${JSON.stringify(values.ttl)}`)
    return 2
  }
  const permissions = (values.permissions ?? '').split(',').filter((p) => p.length > 0)
  console.log(await signToken({ userId: values.user, permissions }, secret, ttl))
  return 0
}

/** Entry point of the `roomcast` command; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  try {
    switch (command) {
      case 'serve':
        return await serve(rest)
      case 'status':
        return await status(rest)
      case 'mcp':
        return await mcp(rest)
      case 'token':
        return await token(rest)
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        console.log(USAGE)
        return command === undefined ? 2 : 0
      default:
        console.error(`Unknown command ${JSON.stringify(command)}\n${USAGE}`)
        return 2
    }
  } catch (err) {
    if (err instanceof SettingsError) {
      console.error(err.message)
      return 1
    }
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true) {
      console.error(`${(err as Error).message}\n${USAGE}`)
      return 2
    }
    throw err
  }
}

