import type { FastifyInstance } from 'fastify'
import type { JsonObject } from '../protocol/messages.js'
import type { ServerView } from './server-view.js'

/**
 * Something that hangs off a server without the core importing it (metrics, MCP). The server
 * calls `setup` once from listen(), before its HTTP port binds (add routes, attach observers);
 * `start` once it is listening; `stop` at shutdown, after clients have drained.
 */
export interface ServerPlugin {
  readonly name: string
  setup(server: ServerView, app: FastifyInstance): void | Promise<void>
  start?(): Promise<void>
  stop?(): Promise<void>
  /** The plugin's state for GET /health, under its name (e.g. an event source's connection state). */
  status?(): JsonObject
}
