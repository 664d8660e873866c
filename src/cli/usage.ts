import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/** A mistake on the command line: main prints it with the usage and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

/** The usage text, listing the services the CLI knows. */
export function usage(services: readonly string[]): string {
  return `Usage:
  roomcast serve <service|all> [--port N] [--host H] [--settings FILE] [--root DIR (workspace: the directory it watches)]
  roomcast serve dashboard [--port N] [--host H]   (also started by serve all, port 3848)
  roomcast status <service> [--port N] [--mcp-port N] [--host H] [--settings FILE] [--timeout SECONDS]
  roomcast mcp <service> [--port N] [--mcp-port N] [--host H] [--settings FILE] [--timeout SECONDS]   (MCP over stdio)
  roomcast token <service> --user ID [--permissions a,b] [--ttl SECONDS] [--settings FILE] [--secret S]
  roomcast token [context] --dialect flat --agent ID [--session ID] [--ttl SECONDS] [--settings FILE] [--secret S]
  roomcast --version

Services: ${services.join(', ')}
Settings: settings/<service>.yaml (or --settings FILE, or ROOMCAST_SETTINGS_DIR)`
}

/** The version in the package.json at `root`. */
export function version(root: string): string {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: unknown }
  return String(pkg.version)
}

/** Checks the service positional of `command`; `all` is accepted only where `allowAll`. */
export function serviceArg(command: string, name: string | undefined, services: readonly string[], allowAll = false): string {
  const choices = allowAll ? [...services, 'all'] : services
  if (name === undefined || name === '') throw new UsageError(`roomcast ${command}: missing the service name (one of ${choices.join(', ')})`)
  if (!choices.includes(name)) throw new UsageError(`Unknown service ${JSON.stringify(name)}. Services: ${services.join(', ')}`)
  return name
}
