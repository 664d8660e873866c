import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { z } from 'zod'
import type { RouteAccess } from '../auth/access-policy.js'
import { AppError, ErrorCode } from '../protocol/codes.js'
import { MAX_DATA_DEPTH, valueTooDeep } from '../protocol/json-depth.js'
import type { JsonObject } from '../protocol/messages.js'
import { historyLimit, recentHistory } from './channel-history.js'
import { presencePage } from './presence.js'
import { describeIssue } from './request-registry.js'
import type { ServerView } from './server-view.js'
import { serviceClients, serviceSnapshot } from './service-status.js'
import { healthView, infoView, statsView } from './status-model.js'

const PublishBodySchema = z.object({
  channel: z.string(),
  event: z.string(),
  data: z.record(z.string(), z.unknown()).default({}),
})

const SendBodySchema = z.object({
  connection_id: z.string().min(1),
  event: z.string().min(1),
  data: z.record(z.string(), z.unknown()).default({}),
})

/** HTTP status for each wire error code an HTTP caller can get. */
const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  INVALID_PARAMS: 400,
  INVALID_CHANNEL: 400,
  INVALID_EVENT: 400,
  DECODE_ERROR: 400,
  FORBIDDEN: 403,
  AUTH_FAILED: 401,
  NOT_FOUND: 404,
  BROKER_UNAVAILABLE: 503,
  TOO_MANY_CONNECTIONS: 429,
  PRESENCE_NOT_ENABLED: 400,
}

function sendError(reply: FastifyReply, code: ErrorCode, message: string): FastifyReply {
  return reply.code(HTTP_STATUS[code] ?? 500).send({ error: message, code })
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route (src/auth/access-policy.ts); default `protected`. */
    access?: RouteAccess
  }
}

/** GET /health, /stats, /ws/info; POST /publish, /send on the service's ws port. */
export function registerHttpRoutes(app: FastifyInstance, server: ServerView): void {
  // One policy for every route, the upgrade included (src/auth/access-policy.ts); runs before a body is read.
  app.addHook('onRequest', async (req, reply) => {
    const access = req.is404 ? 'public' : (req.routeOptions.config.access ?? 'protected')
    const refusal = server.access.check(req.raw, access)
    if (refusal === null) return
    server.log.debug({ url: req.url, host: req.headers.host, origin: req.headers.origin, code: refusal.code }, 'request refused by the access policy')
    if (refusal.status === 401) reply.header('www-authenticate', 'Bearer')
    return reply.code(refusal.status).send({ error: refusal.error, code: refusal.code })
  })

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const status = err.statusCode ?? 500
    if (status >= 500) {
      server.log.error({ err, url: req.url }, 'http handler failed')
      return reply.code(500).send({ error: 'Internal server error', code: ErrorCode.SERVER_ERROR })
    }
    // fastify's own 4xx: bad JSON, wrong content type, body too large.
    return reply.code(status).send({ error: err.message, code: ErrorCode.INVALID_PARAMS })
  })
  app.setNotFoundHandler((req, reply) => sendError(reply, ErrorCode.NOT_FOUND, `No route ${req.method} ${req.url}`))

  app.get('/health', { config: { access: 'public' } }, async (req, reply) => {
    // A caller that could read /stats sees each channel; anyone else, patterns (private channels name their owner).
    const credentialed = server.access.check(req.raw, 'protected') === null
    const body = healthView(await serviceSnapshot(server), credentialed ? null : server.channelSpecs)
    return reply.code(body.status === 'healthy' ? 200 : 503).send(body)
  })
  app.get('/stats', async () => statsView(await serviceSnapshot(server)))
  app.get('/ws/info', async () => infoView(await serviceClients(server)))

  const parseBody = <S extends z.ZodObject>(schema: S, body: unknown): z.output<S> => {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      const fields = Object.keys(schema.shape).join(', ')
      throw new AppError(ErrorCode.INVALID_PARAMS, `Request body must be a JSON object {${fields}}`)
    }
    const parsed = schema.safeParse(body)
    if (!parsed.success) throw new AppError(ErrorCode.INVALID_PARAMS, describeIssue(parsed.error, 'field'))
    return parsed.data
  }
  const answer = async (reply: FastifyReply, fn: () => JsonObject | Promise<JsonObject>) => {
    try {
      return reply.send(await fn())
    } catch (err) {
      if (err instanceof AppError) return sendError(reply, err.code, err.message)
      throw err
    }
  }

  // Checked before the body is read: fastify would otherwise parse text/plain into a string.
  const jsonOnly = async (req: FastifyRequest, reply: FastifyReply) => {
    const type = req.headers['content-type']
    if (type !== undefined && !/^application\/json\s*(;|$)/i.test(type)) {
      return reply.code(415).send({ error: `Content-Type must be application/json, got ${type}`, code: ErrorCode.INVALID_PARAMS })
    }
  }

  app.post('/publish', { onRequest: jsonOnly }, async (req, reply) =>
    answer(reply, async () => {
      const body = parseBody(PublishBodySchema, req.body)
      const { pub, delivered, instances } = await server.publish(body.channel, body.event, body.data, null, { countRemote: true })
      const position = pub.position === undefined ? {} : { offset: pub.position.offset, epoch: pub.position.epoch }
      return { id: pub.id, delivered, instances, ...position }
    }),
  )

  // Channels, presence and history; a channel name may hold `/` (sessions/s1, topics/deploys): written as is or encoded.
  app.get('/channels', async () => {
    const channels = server.channelList()
    return { channels, count: channels.length }
  })
  app.get('/channels/*', async (req, reply) =>
    answer(reply, async () => {
      // From the URL as sent (fastify's wildcard is decoded already): decoded once below, so a
      // name holding `%` is reached as %25 and %2541 stays %41.
      const rest = (req.raw.url ?? '').split('?', 1)[0]?.replace(/^\/channels\//, '') ?? ''
      const m = /^(.+)\/(history|presence|presence\/stats)$/.exec(rest)
      if (m === null) throw new AppError(ErrorCode.NOT_FOUND, `No route GET ${req.url} (GET /channels/{channel}/history, /presence or /presence/stats)`)
      let channel: string
      try {
        channel = decodeURIComponent(m[1] ?? '')
      } catch {
        throw new AppError(ErrorCode.INVALID_CHANNEL, `Malformed channel in ${req.url}`)
      }
      if (m[2] === 'presence') return server.presenceOf(channel, presencePage(req.query as { limit?: unknown; after?: unknown }))
      if (m[2] === 'presence/stats') return server.presenceStatsOf(channel)
      return recentHistory(server, channel, historyLimit((req.query as { limit?: unknown }).limit))
    }),
  )

  // 200 when some instance holds the connection (forwarded: it was another one); 404 when none does.
  app.post('/send', { onRequest: jsonOnly }, async (req, reply) =>
    answer(reply, async () => {
      const body = parseBody(SendBodySchema, req.body)
      // Too deep to re-encode for the socket (JSON.stringify recurses): refuse it here, as the frame decoder would.
      if (valueTooDeep(body.data, MAX_DATA_DEPTH)) {
        throw new AppError(ErrorCode.INVALID_PARAMS, `Field 'data' is nested deeper than ${MAX_DATA_DEPTH} levels`)
      }
      const outcome = await server.sendTo(body.connection_id, body.event, body.data)
      if (outcome === 'unknown') throw new AppError(ErrorCode.NOT_FOUND, `No connection ${body.connection_id}`)
      return { delivered: true, forwarded: outcome === 'remote' }
    }),
  )
}
