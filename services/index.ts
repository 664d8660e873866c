import type { ServerOptions, Settings, WebSocketServer } from '../src/index.js'
import { WorkflowServer } from './workflow/index.js'

/** How the CLI and supervisord find a service: one entry per folder under services/. */
export interface ServiceEntry {
  readonly name: string
  readonly defaultPort: number
  create(settings: Settings, options?: ServerOptions): WebSocketServer
}

export const SERVICES: Readonly<Record<string, ServiceEntry>> = {
  workflow: { name: 'workflow', defaultPort: WorkflowServer.defaultPort, create: (s, o) => new WorkflowServer(s, o) },
}

export function serviceNames(): string[] {
  return Object.keys(SERVICES)
}
