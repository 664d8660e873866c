import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { closest } from '../util/closest.js'

/** A mistake on the command line: main prints it with the usage (of `command` when known) and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message)
  }
}

/** One command of the CLI as its help shows it: synopsis lines, what it does, its options. */
interface CommandHelp {
  readonly synopsis: readonly string[]
  readonly about: string
  /** [option as written, what it does]; each command also takes --help. */
  readonly options: readonly (readonly [string, string])[]
}

const SETTINGS = ['--settings FILE', 'the settings file (default settings/<service>.yaml, or ROOMCAST_SETTINGS_DIR)'] as const
const CLIENT_OPTIONS = [
  ['--port N', "the service's ws port (default: from its settings)"],
  ['--mcp-port N', 'its MCP port (default: the ws port − 10, or mcp.port)'],
  ['--host H', 'its host (default: from its settings)'],
  SETTINGS,
  ['--timeout SECONDS', 'how long to wait for an answer'],
] as const

/** Every command's help; the general usage is their synopses. */
const COMMANDS: Readonly<Record<string, CommandHelp>> = {
  serve: {
    synopsis: [
      'roomcast serve <service|all> [--port N] [--host H] [--workers N|auto] [--settings FILE] [--root DIR (workspace: the directory it watches)]',
      'roomcast serve dashboard [--port N] [--host H]   (also started by serve all, port 3848)',
    ],
    about: 'Runs a service (or all of them, with the dashboard) until TERM or INT, then drains its clients.',
    options: [
      ['--port N', 'the ws and HTTP port (default: from the settings; 0 picks a free one); not with all'],
      ['--host H', 'the address to listen on (default 127.0.0.1)'],
      ['--workers N|auto', 'processes serving the port (default: from the settings, 1); not with all'],
      [SETTINGS[0], `${SETTINGS[1]}; not with all`],
      ['--root DIR', 'workspace only: the directory its file and git sources watch'],
    ],
  },
  status: {
    synopsis: ['roomcast status <service> [--port N] [--mcp-port N] [--host H] [--settings FILE] [--timeout SECONDS]'],
    about: "Asks a running service's MCP health tool (or GET /health) whether it is healthy: exit 0 when it is, 1 otherwise.",
    options: CLIENT_OPTIONS,
  },
  mcp: {
    synopsis: ['roomcast mcp <service> [--port N] [--mcp-port N] [--host H] [--settings FILE] [--timeout SECONDS]   (MCP over stdio)'],
    about: "Serves a running service's MCP tools over stdio, for an MCP client that starts a command.",
    options: CLIENT_OPTIONS,
  },
  token: {
    synopsis: [
      'roomcast token <service> --user ID [--permissions a,b] [--ttl SECONDS] [--settings FILE] [--secret S]',
      'roomcast token [context] --dialect flat --agent ID [--session ID] [--ttl SECONDS] [--settings FILE] [--secret S]',
    ],
    about: "Prints a token the service accepts, signed with the secret its server reads (docs/auth.md).",
    options: [
      ['--user ID', 'envelope: the user the JWT names'],
      ['--permissions a,b', 'envelope: the permissions it grants'],
      ['--dialect flat', 'an HMAC token of the flat dialect (default: the dialect of the service)'],
      ['--agent ID', 'flat: the agent the token names'],
      ['--session ID', 'flat: its session'],
      ['--ttl SECONDS', 'how long the token is valid (default 3600)'],
      SETTINGS,
      ['--secret S', "sign with S instead of the service's secret"],
    ],
  },
  version: { synopsis: ['roomcast --version'], about: 'Prints the version of roomcast.', options: [] },
  help: { synopsis: ['roomcast help [command]   (or roomcast <command> --help)'], about: 'Prints the usage of every command, or of one.', options: [] },
}

/** The usage text, listing the services the CLI knows. */
export function usage(services: readonly string[]): string {
  const lines = Object.entries(COMMANDS)
    .filter(([name]) => name !== 'help')
    .flatMap(([, c]) => c.synopsis)
  return `Usage:
${lines.map((l) => `  ${l}`).join('\n')}

Services: ${services.join(', ')}
Settings: settings/<service>.yaml (or --settings FILE, or ROOMCAST_SETTINGS_DIR)
Help on one command: roomcast <command> --help`
}

/** The commands that have a help text. */
export const commandNames = (): string[] => Object.keys(COMMANDS)

/** `roomcast <command> --help`: its synopsis, what it does and each option; null for an unknown command. */
export function commandUsage(command: string, services: readonly string[]): string | null {
  const c = COMMANDS[command]
  if (c === undefined) return null
  const [first, ...more] = c.synopsis
  const width = Math.max(0, ...c.options.map(([o]) => o.length))
  const options = [...c.options, ['--help, -h', 'this text'] as const].map(([o, what]) => `  ${o.padEnd(width)}  ${what}`)
  const needsService = c.synopsis.some((l) => l.includes('<service'))
  return [
    `Usage: ${first}`,
    ...more.map((l) => `       ${l}`),
    '',
    c.about,
    ...(c.options.length > 0 ? ['', 'Options:', ...options] : []),
    ...(needsService ? ['', `Services: ${services.join(', ')}`] : []),
  ].join('\n')
}

/** The version in the package.json at `root`. */
export function version(root: string): string {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: unknown }
  return String(pkg.version)
}

/** `; did you mean X?` when `word` is close to one of `choices`, else ''. */
export function didYouMean(word: string, choices: readonly string[], prefix = ''): string {
  const near = closest(word, choices)
  return near === null ? '' : `; did you mean ${prefix}${near}?`
}

/** Checks the service positional of `command`; `all` is accepted only where `allowAll`. */
export function serviceArg(command: string, name: string | undefined, services: readonly string[], allowAll = false): string {
  const choices = allowAll ? [...services, 'all'] : services
  if (name === undefined || name === '') throw new UsageError(`roomcast ${command}: missing the service name (one of ${choices.join(', ')})`)
  if (!choices.includes(name)) throw new UsageError(`Unknown service ${JSON.stringify(name)}${didYouMean(name, choices) || '.'} Services: ${services.join(', ')}`)
  return name
}
