import { readdirSync, readFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import type { ChannelSpec, Dialect, ServerOptions, Settings, SettingsInput, WebSocketServer } from '../src/index.js'
import type { LoadOptions, SettingsCheck } from '../src/config/settings.js'
import { ContextServer } from './context/index.js'
import { createDeclared, declarationOf, declaredChannels, declaredDialect } from './declared/index.js'
import { PatternsServer } from './patterns/index.js'
import { SessionServer } from './session/index.js'
import { TestsServer } from './tests/index.js'
import { WorkflowServer } from './workflow/index.js'
import { WorkspaceServer } from './workspace/index.js'

/** How the CLI and supervisord find a service: one entry per folder under services/. */
export interface ServiceEntry {
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
  create(settings: Settings, options?: ServerOptions): WebSocketServer
}

export const SERVICES: Readonly<Record<string, ServiceEntry>> = {
  tests: { name: 'tests', defaultPort: TestsServer.defaultPort, channels: TestsServer.channels, create: (s, o) => new TestsServer(s, o) },
  session: { name: 'session', defaultPort: SessionServer.defaultPort, channels: SessionServer.channels, create: (s, o) => new SessionServer(s, o) },
  workflow: { name: 'workflow', defaultPort: WorkflowServer.defaultPort, channels: WorkflowServer.channels, create: (s, o) => new WorkflowServer(s, o) },
  patterns: { name: 'patterns', defaultPort: PatternsServer.defaultPort, channels: PatternsServer.channels, create: (s, o) => new PatternsServer(s, o) },
  context: {
    name: 'context',
    defaultPort: ContextServer.defaultPort,
    channels: ContextServer.channels,
    dialect: ContextServer.dialect,
    defaults: ContextServer.defaults,
    // The DCM context manager's own variables: WS_PORT and HOST.
    envAliases: { port: 'WS_PORT', host: 'HOST' },
    create: (s, o) => new ContextServer(s, o),
  },
  workspace: {
    name: 'workspace',
    defaultPort: WorkspaceServer.defaultPort,
    channels: WorkspaceServer.channels,
    dialect: WorkspaceServer.dialect,
    create: (s, o) => new WorkspaceServer(s, o),
  },
}

/** The built-in services' names. */
export function serviceNames(): string[] {
  return Object.keys(SERVICES)
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
export function declaredServices(dir: string): Record<string, ServiceEntry> {
  let files: string[]
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()
  } catch {
    return {}
  }
  const found: Record<string, ServiceEntry> = {}
  for (const file of files) {
    const name = basename(file, '.yaml')
    if (Object.hasOwn(SERVICES, name)) continue
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
      create: (settings, options) => createDeclared(settings, options),
    }
  }
  return found
}

/** Every service `roomcast` knows: the built-in ones, then those declared in `dir`'s settings files. */
export function allServices(dir: string): Readonly<Record<string, ServiceEntry>> {
  return { ...SERVICES, ...declaredServices(dir) }
}
