import type { ChannelSpec, Dialect, LoadOptions, ServerOptions, Settings, SettingsCheck, SettingsInput, WebSocketServer } from '../src/index.js'
import { ContextServer } from './context/index.js'
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

export function serviceNames(): string[] {
  return Object.keys(SERVICES)
}
