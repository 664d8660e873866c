import { readdirSync, readFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import type { ChannelSpec } from '../src/protocol/channels.js'
import type { Dialect } from '../src/dialects/dialect.js'
import type { LoadOptions, Settings, SettingsCheck, SettingsInput } from '../src/config/settings.js'
import type { ServerOptions, WebSocketServer } from '../src/server/websocket-server.js'
import * as context from './context/meta.js'
import { declarationOf, declaredChannels, declaredDialect } from './declared/meta.js'
import * as patterns from './patterns/meta.js'
import * as session from './session/meta.js'
import * as tests from './tests/meta.js'
import * as workflow from './workflow/meta.js'
import * as workspace from './workspace/meta.js'

/**
 * What the CLI knows of every service without loading any server code (the core, fastify, ws, the
 * plugins): enough to read and check settings, list services, sign tokens and ask one for its
 * status. `load` brings the server's code when the service is to run. services/index.ts adds a
 * synchronous `create` to each, for code that imports the services anyway.
 */
export interface ServiceInfo {
  readonly name: string
  readonly defaultPort: number
  /** The service's channels, for the settings checks that name them (public_channels) before it is created. */
  readonly channels: readonly ChannelSpec[]
  /** The service's wire dialect, when not the envelope one: the CLI checks its settings rules with the file's. */
  readonly dialect?: Dialect
  /** The service's own settings rules, besides its dialect's (e.g. no development token secret in production). */
  readonly checks?: readonly SettingsCheck[]
  /**
   * The service's own settings defaults, under any settings file (docs/configuration.md): what makes
   * it the service it is holds unless the file changes it explicitly.
   */
  readonly defaults?: Partial<SettingsInput>
  /** Environment names the service also answers to for its port and host. */
  readonly envAliases?: LoadOptions['envAliases']
  /** The service's server code, loaded on first call: what builds a server from its settings. */
  load(): Promise<ServiceFactory>
}

export type ServiceFactory = (settings: Settings, options?: ServerOptions) => WebSocketServer

export const CATALOG: Readonly<Record<string, ServiceInfo>> = {
  tests: { name: 'tests', defaultPort: tests.defaultPort, channels: tests.channels, load: async () => (await import('./tests/index.js')).createTests },
  session: { name: 'session', defaultPort: session.defaultPort, channels: session.channels, load: async () => (await import('./session/index.js')).createSession },
  workflow: { name: 'workflow', defaultPort: workflow.defaultPort, channels: workflow.channels, load: async () => (await import('./workflow/index.js')).createWorkflow },
  patterns: { name: 'patterns', defaultPort: patterns.defaultPort, channels: patterns.channels, load: async () => (await import('./patterns/index.js')).createPatterns },
  context: {
    name: 'context',
    defaultPort: context.defaultPort,
    channels: context.channels,
    dialect: context.dialect,
    defaults: context.defaults,
    // The DCM context manager's own variables: WS_PORT and HOST.
    envAliases: { port: 'WS_PORT', host: 'HOST' },
    load: async () => (await import('./context/index.js')).createContext,
  },
  workspace: {
    name: 'workspace',
    defaultPort: workspace.defaultPort,
    channels: workspace.channels,
    dialect: workspace.dialect,
    load: async () => (await import('./workspace/index.js')).createWorkspace,
  },
}

/** Whether a settings file's text declares a service (a top-level `service:` key), read without trusting the rest. */
function declares(text: string): { readonly declared: boolean; readonly doc: unknown } {
  try {
    const doc: unknown = parseYaml(text)
    return { declared: typeof doc === 'object' && doc !== null && Object.hasOwn(doc, 'service'), doc }
  } catch {
    // Broken YAML: the settings load reports it, with the line; it is a declared service if it says so.
    return { declared: /^service:/m.test(text), doc: null }
  }
}

/**
 * The services declared in the settings files of `dir` (`<name>.yaml` with a `service:` block), by
 * file name; a built-in's own file is never one (the settings check refuses its `service:` key).
 */
export function declaredServices(dir: string): Record<string, ServiceInfo> {
  let files: string[]
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()
  } catch {
    return {}
  }
  const found: Record<string, ServiceInfo> = {}
  for (const file of files) {
    const name = basename(file, '.yaml')
    if (Object.hasOwn(CATALOG, name)) continue
    let text: string
    try {
      text = readFileSync(join(dir, file), 'utf8')
    } catch {
      continue
    }
    const { declared, doc } = declares(text)
    if (!declared) continue
    const decl = declarationOf(doc)
    found[name] = {
      name,
      defaultPort: 0,
      channels: decl === null ? [] : declaredChannels(decl),
      dialect: declaredDialect(decl ?? { dialect: 'envelope' }),
      load: async () => (await import('./declared/index.js')).createDeclared,
    }
  }
  return found
}

/** Every service `roomcast` knows: the built-in ones, then those declared in `dir`'s settings files. */
export function allServices(dir: string): Readonly<Record<string, ServiceInfo>> {
  return { ...CATALOG, ...declaredServices(dir) }
}
