import type { IncomingMessage } from 'node:http'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, LogController } from 'fastify'
import type { WebSocket } from 'ws'
import { ErrorCode } from '../protocol/codes.js'
import { registerHttpRoutes } from './http-routes.js'
import { serverFactory, type TlsFiles } from './http-transport.js'
import type { ServerView } from './server-view.js'
import { UpgradeHandler } from './upgrade.js'

/** The paths a client opens its WebSocket on. */
export const WEBSOCKET_PATHS = ['/', '/ws'] as const

/** What the app calls back into the server for: the upgrade's admission and the shutdown's drain. */
export interface AppHooks {
  /** False once the server drains: a late upgrade is answered 503. */
  accepting(): boolean
  /** A completed WebSocket handshake. */
  admit(socket: WebSocket, req: IncomingMessage): void
  /** Run before fastify stops listening (its preClose hook). */
  drain(): Promise<void>
}

/**
 * The server's fastify app: the HTTP(S) server, the WebSocket upgrade on `/` and `/ws` (outside
 * fastify's router, src/server/upgrade.ts), a 426 for a plain GET there, and the HTTP routes.
 * Not listening yet: plugins add their routes first.
 */
export function createApp(server: ServerView, tls: TlsFiles | null, hooks: AppHooks): FastifyInstance {
  // Typed as fastify's own logger interface, so the app keeps fastify's default logger type.
  const logger: FastifyBaseLogger = server.log
  const app: FastifyInstance = Fastify({
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: server.settings.max_payload,
    forceCloseConnections: true,
    serverFactory: serverFactory(server.settings, tls),
    // A URL fastify cannot decode (`/channels/%/history`): the access policy first, as for any
    // route, then the same {error, code} body as every other refusal.
    frameworkErrors: (err, req, res) => {
      const reply = res as FastifyReply
      const refusal = server.access.check(req.raw, 'protected')
      if (refusal !== null) {
        if (refusal.status === 401) reply.header('www-authenticate', 'Bearer')
        return reply.code(refusal.status).send({ error: refusal.error, code: refusal.code })
      }
      return reply.code(400).send({ error: err.message, code: ErrorCode.INVALID_PARAMS })
    },
  })
  // The drain runs before fastify stops listening: a late upgrade meanwhile is answered 503.
  app.addHook('preClose', () => hooks.drain())
  new UpgradeHandler(
    {
      access: server.access,
      accepting: () => hooks.accepting(),
      admit: (socket, req) => hooks.admit(socket, req),
      refusedPerAddress: () => void server.stats.rejectedPerIp++,
      debug: (fields, msg) => server.log.debug(fields, msg),
    },
    { paths: WEBSOCKET_PATHS, maxPayload: server.settings.max_payload, maxPerAddress: server.settings.max_connections_per_ip },
  ).attach(app.server)
  // A plain GET on a WebSocket path is a client that forgot to upgrade: say so (426), not 404.
  const upgradeRequired = (_req: unknown, reply: FastifyReply) =>
    reply
      .code(426)
      .header('upgrade', 'websocket')
      .header('connection', 'Upgrade')
      .send({ error: 'This path speaks WebSocket: send an Upgrade: websocket request', code: ErrorCode.INVALID_PARAMS })
  for (const url of WEBSOCKET_PATHS) app.get(url, { config: { access: 'socket' } }, upgradeRequired)
  registerHttpRoutes(app, server)
  return app
}
