import cluster from 'node:cluster'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Logger } from 'pino'
import { allServices, CATALOG, type ServiceInfo } from '../services/catalog.js'
import { loadSettings, SettingsError, type Settings, type SettingsInput, workerCount } from './config/settings.js'
import type { Broker } from './broker/broker.js'
import type { WorkerRole } from './cli/worker-role.js'
import { envelopeDialect } from './dialects/envelope.js'
import { tlsProblems } from './server/http-transport.js'
import { publicChannelProblems } from './server/public-channels.js'
import { mcpPortOf } from './mcp/mcp-port.js'
import type { RemoteTarget } from './mcp/remote.js'
import { describeStartError } from './cli/start-error.js'
import { startedByNpm, StopSignals } from './cli/stop-signals.js'
import { parseCommand } from './cli/options.js'
import { commandNames, commandUsage, didYouMean, serviceArg, usage, UsageError, version } from './cli/usage.js'

/** The package root: the nearest folder above this file with a package.json (works from src/ and dist/src/). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir)
  return dir
}

const ROOT = packageRoot()

function settingsDir(): string {
  return process.env.ROOMCAST_SETTINGS_DIR ?? join(ROOT, 'settings')
}

function settingsFile(service: string, explicit: string | undefined): string {
  if (explicit !== undefined) return resolve(explicit)
  return join(settingsDir(), `${service}.yaml`)
}

let known: Readonly<Record<string, ServiceInfo>> | undefined

/** The built-in services and those declared in the settings folder's files, read once. */
function services(): Readonly<Record<string, ServiceInfo>> {
  known ??= allServices(settingsDir())
  return known
}

function serviceNames(): string[] {
  return Object.keys(services())
}

/** A declared service's `service` block belongs to a file of its own name, and no built-in is redeclared. */
function declarationProblems(name: string, settings: Settings): string[] {
  const decl = settings.service
  if (Object.hasOwn(CATALOG, name)) {
    return decl === null ? [] : [`service: ${name} is a built-in service (its channels and events are code); declare a new service in a file of its own name`]
  }
  if (decl === null) return []
  if (Object.hasOwn(CATALOG, decl.name)) return [`service.name: ${decl.name} shadows the built-in service ${decl.name}; choose another name`]
  if (decl.name !== name) return [`service.name: expected ${JSON.stringify(name)}, the settings file's name, got ${JSON.stringify(decl.name)}`]
  return []
}

/** The wire dialect a service speaks. */
function dialectOf(name: string): string {
  return (services()[name]?.dialect ?? envelopeDialect).name
}

/** A service's settings as `roomcast serve` reads them: its file (an explicit one must exist), the environment, `overrides`. */
function settingsOf(name: string, explicit: string | undefined, overrides: Partial<SettingsInput> = {}, serving = false): Settings {
  const entry = services()[name]
  return loadSettings({
    service: name,
    file: settingsFile(name, explicit),
    fileRequired: explicit !== undefined,
    defaults: { ...entry?.defaults, port: entry?.defaultPort ?? 0 },
    overrides,
    // The dialect's own rules (e.g. auth.required needs a secret) and the service's, listed with the file's
    // problems; when serving, the TLS files too (other commands need not read a key that may be the service user's alone).
    checks: [
      (settings) => (entry?.dialect ?? envelopeDialect).settingsProblems(settings, name),
      (settings) => publicChannelProblems(name, entry?.channels ?? [], settings),
      (settings) => declarationProblems(name, settings),
      ...(entry?.checks ?? []),
      ...(serving ? [tlsProblems] : []),
    ],
    envAliases: entry?.envAliases,
  })
}

function intOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new SettingsError('command line', [`--${name}: expected a port number, got ${JSON.stringify(value)}`])
  return n
}

/** `--workers N|auto`: the settings schema checks the range, with the file's problems. */
function workersOption(value: string | undefined): number | 'auto' | undefined {
  if (value === undefined || value === 'auto') return value
  const n = Number(value)
  if (value.trim() === '' || Number.isNaN(n)) throw new SettingsError('command line', [`--workers: expected a number of workers or auto, got ${JSON.stringify(value)}`])
  return n
}

interface Loaded {
  readonly name: string
  readonly settings: Settings
}

/** Every service's settings, validated before any starts; every problem of every service in one report. */
function loadAll(
  names: readonly string[],
  all: boolean,
  explicit: string | undefined,
  overrides: (name: string) => Partial<SettingsInput>,
): Loaded[] | string {
  const loaded: Loaded[] = []
  const problems: string[] = []
  for (const name of names) {
    try {
      const settings = settingsOf(name, explicit, overrides(name), true)
      if (!all || settings.enabled) loaded.push({ name, settings })
    } catch (err) {
      if (!(err instanceof SettingsError)) throw err
      problems.push(err.message)
    }
  }
  if (all) problems.push(...portClashes(loaded, explicit))
  return problems.length > 0 ? problems.join('\n') : loaded
}

/** `serve all`: two services asking for the same port (0 picks a free one, never a clash), each named with its file. */
function portClashes(loaded: readonly Loaded[], explicit: string | undefined): string[] {
  const first = new Map<string, string>()
  const problems: string[] = []
  for (const { name, settings } of loaded) {
    if (settings.port === 0) continue
    const at = String(settings.port)
    const other = first.get(at)
    if (other === undefined) first.set(at, name)
    else problems.push(`Invalid settings (${settingsFile(name, explicit)}):\n  - port: ${settings.port} is also the port of ${other} (${settingsFile(other, explicit)}); serve all runs both`)
  }
  return problems
}

/** Starts the services one by one until all listen, one fails (its one-line reason is returned) or a stop is asked for. */
async function startAll(loaded: readonly Loaded[], logger: Logger, servers: Closable[], stop: StopSignals, worker: WorkerRole | null = null): Promise<string | null> {
  // Loaded only here: help, status, token and a workers' primary never need them (nor the MCP SDK when MCP is off).
  const { MetricsPlugin } = await import('./metrics/metrics-plugin.js')
  const { McpPlugin } = loaded.some((l) => l.settings.mcp.enabled) ? await import('./mcp/mcp-plugin.js') : { McpPlugin: null }
  for (const { name, settings } of loaded) {
    if (stop.stopping) break
    const broker: Broker | undefined = worker?.broker(settings, logger)
    const group = worker?.group()
    const create = await (services()[name] as ServiceInfo).load()
    const server = create(settings, { logger, ...(broker !== undefined ? { broker } : {}), ...(group !== undefined ? { workers: group } : {}) })
    server.use(worker?.metrics() ?? new MetricsPlugin())
    if (settings.mcp.enabled && McpPlugin !== null) server.use(new McpPlugin())
    servers.push(server)
    try {
      await server.listen()
    } catch (err) {
      const line = describeStartError(err, name, settings.port)
      if (line !== null) return line
      logger.error({ err, service: name }, 'failed to start')
      return `roomcast: cannot start ${name}: ${(err as Error).message}`
    }
  }
  return null
}

async function serve(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand('serve', args, {
    port: { type: 'string' },
    host: { type: 'string' },
    workers: { type: 'string' },
    settings: { type: 'string' },
    root: { type: 'string' },
  })
  const target = serviceArg('serve', positionals[0], [...serviceNames(), 'dashboard'], true)
  if (values.root !== undefined && target !== 'workspace' && target !== 'all') {
    throw new UsageError('--root applies to the workspace service: roomcast serve workspace --root DIR')
  }
  if (target === 'all' && (values.port !== undefined || values.settings !== undefined || values.workers !== undefined)) {
    throw new UsageError('--port, --workers and --settings apply to one service; use ROOMCAST_<SERVICE>_PORT with "serve all"')
  }
  const overrides: Partial<SettingsInput> = {}
  const port = intOption(values.port, 'port')
  if (port !== undefined) overrides.port = port
  if (values.host !== undefined) overrides.host = values.host
  const workers = workersOption(values.workers)
  if (workers !== undefined) overrides.workers = workers
  if (target === 'dashboard') return serveDashboard(intOption(values.port, 'port'), values.host)
  const root = values.root === undefined ? null : resolve(values.root)
  const overridesOf = (name: string) => (name === 'workspace' && root !== null ? { ...overrides, workspace: { root } } : overrides)
  const loaded = loadAll(target === 'all' ? serviceNames() : [target], target === 'all', values.settings, overridesOf)
  if (typeof loaded === 'string') {
    console.error(loaded)
    return 1
  }

  const many = loaded.find((l) => workerCount(l.settings) > 1)
  if (target === 'all' && many !== undefined) {
    console.error(`roomcast: ${many.name} asks for ${workerCount(many.settings)} workers: workers need one program per service (roomcast serve ${many.name})`)
    return 1
  }
  const { cliLogger } = await import('./cli/logger.js')
  const base = cliLogger(loaded[0]?.settings ?? { log_level: 'info', log_format: 'auto' })
  const logger = many !== undefined && cluster.isWorker ? base.child({ worker: cluster.worker?.id }) : base
  // Before anything listens: a signal during the start is a graceful stop too.
  const stop = new StopSignals(logger, { watchParent: startedByNpm() })
  if (many !== undefined && cluster.isPrimary) {
    const { runPrimary } = await import('./cli/primary.js')
    return runPrimary({ service: many.name, workers: workerCount(many.settings), accept: many.settings.workers_accept, drainSeconds: many.settings.drain_timeout, logger, stop })
  }
  if (many === undefined) return serveHere(loaded, target, logger, stop, null)
  const { WorkerRole } = await import('./cli/worker-role.js')
  const worker = new WorkerRole(stop)
  let code = 1
  try {
    code = await serveHere(loaded, target, logger, stop, worker)
    return code
  } finally {
    worker.done(code)
  }
}

/** Runs the services in this process (one process, or one worker) until a stop is asked for. */
async function serveHere(loaded: readonly Loaded[], target: string, logger: Logger, stop: StopSignals, worker: WorkerRole | null): Promise<number> {
  const servers: Closable[] = []
  let failure = await startAll(loaded, logger, servers, stop, worker)
  if (failure === null && target === 'all' && !stop.stopping) failure = await startDashboard(loaded, logger, servers)
  if (failure !== null) {
    // The one line says it all: the servers' own shutdown lines would only bury it.
    for (const server of servers) if (server.log !== undefined) server.log.level = 'silent'
    await Promise.allSettled(servers.map((s) => s.close()))
    console.error(failure)
    return 1
  }
  worker?.ready()
  await stop.requested
  await Promise.allSettled(servers.map((s) => s.close()))
  return 0
}

/** What serve stops at the end: the services and the dashboard. */
interface Closable {
  readonly log?: Logger
  close(): Promise<void>
}

async function dashboardTargets(loaded: readonly Loaded[]) {
  const { dashboardTarget } = await import('./cli/dashboard.js')
  return loaded.map(({ name, settings }) => dashboardTarget(name, dialectOf(name), settings))
}

/** `serve all` also starts the dashboard (docs/dashboard.md) on 127.0.0.1:3848 (ROOMCAST_DASHBOARD_PORT). */
async function startDashboard(loaded: readonly Loaded[], logger: Logger, servers: Closable[]): Promise<string | null> {
  const { createDashboard, dashboardPort } = await import('./cli/dashboard.js')
  const port = dashboardPort(undefined)
  const dashboard = createDashboard(ROOT, await dashboardTargets(loaded), logger, port, '127.0.0.1')
  servers.push(dashboard)
  try {
    await dashboard.listen()
    return null
  } catch (err) {
    return describeStartError(err, 'dashboard', port) ?? `roomcast: cannot start the dashboard: ${(err as Error).message}`
  }
}

/** `serve dashboard`: the page alone, showing the services where their settings say they listen. */
async function serveDashboard(portFlag: number | undefined, host: string | undefined): Promise<number> {
  const loaded: Loaded[] = serviceNames().map((name) => ({ name, settings: settingsOf(name, undefined) }))
  const { cliLogger } = await import('./cli/logger.js')
  const logger = cliLogger(loaded[0]?.settings ?? { log_level: 'info', log_format: 'auto' })
  const stop = new StopSignals(logger, { watchParent: startedByNpm() })
  const { createDashboard, dashboardPort } = await import('./cli/dashboard.js')
  const port = dashboardPort(portFlag)
  const dashboard = createDashboard(ROOT, await dashboardTargets(loaded), logger, port, host ?? '127.0.0.1')
  try {
    await dashboard.listen()
  } catch (err) {
    await dashboard.close()
    console.error(describeStartError(err, 'dashboard', port) ?? `roomcast: cannot start the dashboard: ${(err as Error).message}`)
    return 1
  }
  await stop.requested
  await dashboard.close()
  return 0
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
function targetOf(command: string, args: string[]): Target {
  const { values, positionals } = parseCommand(command, args, {
    port: { type: 'string' },
    'mcp-port': { type: 'string' },
    host: { type: 'string' },
    settings: { type: 'string' },
    timeout: { type: 'string' },
  })
  const name = serviceArg(command, positionals[0], serviceNames())
  const timeout = values.timeout === undefined ? undefined : Number(values.timeout)
  if (timeout !== undefined && !(timeout > 0)) throw new UsageError(`--timeout: expected a positive number of seconds, got ${JSON.stringify(values.timeout)}`)
  const settings = settingsOf(name, values.settings)
  const port = intOption(values.port, 'port') ?? settings.port
  const host = values.host ?? settings.host
  const mcpPort = intOption(values['mcp-port'], 'mcp-port') ?? mcpPortOf({ port, mcp: settings.mcp })
  return { name, settings, host, port, mcp: { host, port: mcpPort, apiKey: settings.api_key }, timeoutMs: timeout === undefined ? undefined : timeout * 1000 }
}

async function status(args: string[]): Promise<number> {
  const target = targetOf('status', args)
  if (!target.settings.mcp.enabled) {
    console.log(`${target.name}: MCP is disabled in its settings (mcp.enabled: false); asking GET /health instead`)
    return httpStatus(target.name, target.host, target.port)
  }
  const { checkStatus } = await import('./mcp/status-check.js')
  const report = await checkStatus(target.name, target.mcp, { host: target.host, port: target.port }, target.timeoutMs)
  console.log(report.line)
  return report.code
}

async function mcp(args: string[]): Promise<number> {
  const target = targetOf('mcp', args)
  const { runStdioProxy } = await import('./mcp/stdio-proxy.js')
  await runStdioProxy(target.name, target.mcp, target.timeoutMs)
  return 0
}

async function httpStatus(name: string, host: string, port: number): Promise<number> {
  const { describeHealth, probeHealth } = await import('./mcp/health-probe.js')
  const report = describeHealth(name, host, port, await probeHealth(host, port, 5000))
  console.log(report.line)
  return report.code
}

/** The command an alias stands for (`--version` → `version`). */
const ALIASES: Readonly<Record<string, string>> = { '--version': 'version', '-v': 'version', '--help': 'help', '-h': 'help' }

/** Whether the arguments ask for help (--help or -h before a `--`). */
function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--')
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h')
}

/** `roomcast help [command]`: the usage of every command, or of one. */
function help(command: string | undefined): number {
  if (command === undefined) {
    console.log(usage(serviceNames()))
    return 0
  }
  const text = commandUsage(ALIASES[command] ?? command, serviceNames())
  if (text === null) throw new UsageError(`Unknown command ${JSON.stringify(command)}${didYouMean(command, commandNames())}`)
  console.log(text)
  return 0
}

async function run(command: string | undefined, rest: string[]): Promise<number> {
  if (command !== undefined && commandNames().includes(ALIASES[command] ?? command) && wantsHelp(rest)) return help(command)
  switch (command) {
    case 'serve':
      return serve(rest)
    case 'status':
      return status(rest)
    case 'mcp':
      return mcp(rest)
    case 'token': {
      const { token } = await import('./cli/token.js')
      return token(rest, { services: serviceNames(), settingsOf: (name, file) => settingsOf(name, file), fileOf: settingsFile, dialectOf })
    }
    case '--version':
    case '-v':
    case 'version':
      console.log(`roomcast ${version(ROOT)}`)
      return 0
    case undefined:
      console.log(usage(serviceNames()))
      return 2
    case 'help':
    case '--help':
    case '-h':
      return help(rest[0])
    default:
      throw new UsageError(`Unknown command ${JSON.stringify(command)}${didYouMean(command, commandNames())}`)
  }
}

/** Entry point of the `roomcast` command; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  try {
    return await run(command, rest)
  } catch (err) {
    if (err instanceof SettingsError) {
      console.error(err.message)
      return 1
    }
    if (err instanceof UsageError) {
      const text = (err.command === undefined ? null : commandUsage(err.command, serviceNames())) ?? usage(serviceNames())
      console.error(`${err.message}\n\n${text}`)
      return 2
    }
    throw err
  }
}
