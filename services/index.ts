import type { Settings } from '../src/config/settings.js'
import type { ServerOptions, WebSocketServer } from '../src/server/websocket-server.js'
import { CATALOG, declaredServices as declaredInfos, type ServiceInfo } from './catalog.js'
import { createContext } from './context/index.js'
import { createDeclared } from './declared/index.js'
import { createPatterns } from './patterns/index.js'
import { createSession } from './session/index.js'
import { createTests } from './tests/index.js'
import { createWorkflow } from './workflow/index.js'
import { createWorkspace } from './workspace/index.js'

/**
 * How the CLI and supervisord find a service: one entry per folder under services/. Its metadata
 * is services/catalog.ts's (which the CLI reads without loading any server code); this adds `create`.
 */
export interface ServiceEntry extends ServiceInfo {
  create(settings: Settings, options?: ServerOptions): WebSocketServer
}

const CREATE: Readonly<Record<string, ServiceEntry['create']>> = {
  tests: createTests,
  session: createSession,
  workflow: createWorkflow,
  patterns: createPatterns,
  context: createContext,
  workspace: createWorkspace,
}

export const SERVICES: Readonly<Record<string, ServiceEntry>> = Object.fromEntries(
  Object.entries(CATALOG).map(([name, info]) => [name, { ...info, create: CREATE[name] as ServiceEntry['create'] }]),
)

/** The built-in services' names. */
export function serviceNames(): string[] {
  return Object.keys(SERVICES)
}

/**
 * The services declared in the settings files of `dir` (`<name>.yaml` with a `service:` block), by
 * file name; a built-in's own file is never one (the settings check refuses its `service:` key).
 */
export function declaredServices(dir: string): Record<string, ServiceEntry> {
  return Object.fromEntries(Object.entries(declaredInfos(dir)).map(([name, info]) => [name, { ...info, create: createDeclared }]))
}

/** Every service `roomcast` knows: the built-in ones, then those declared in `dir`'s settings files. */
export function allServices(dir: string): Readonly<Record<string, ServiceEntry>> {
  return { ...SERVICES, ...declaredServices(dir) }
}
