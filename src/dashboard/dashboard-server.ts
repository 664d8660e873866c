import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { AccessPolicy } from '../auth/access-policy.js'
import { channelDetail, collectStatus, type ServiceTarget } from './status-poll.js'

/** The dashboard's own port (docs/protocol.md G). */
export const DASHBOARD_PORT = 3848

export interface DashboardOptions {
  readonly host: string
  readonly port: number
  /** The services the page shows, with where they listen. */
  readonly services: readonly ServiceTarget[]
  /** Folder of the built page (app.js, app.css): dist/dashboard. */
  readonly assets: string
  readonly logger: Logger
}

const shell = (title: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
  `<title>roomcast · ${title}</title><link rel="stylesheet" href="/assets/app.css"></head>` +
  `<body><div id="app"></div><script type="module" src="/assets/app.js"></script></body></html>`

/**
 * Serves the read-only dashboard: the page (/dashboard, /live), the service list and a status
 * snapshot of every service, read server-side from each one's GET /health and /stats so the page
 * needs no cross-origin HTTP. The live stream goes from the page straight to each service's
 * WebSocket with roomcast/client. Same access rule as the services' own routes: loopback Host.
 */
export class DashboardServer {
  readonly #opts: DashboardOptions
  readonly #policy = new AccessPolicy({ api_key: null, allowed_origins: [], trust_proxy: false })
  #app: FastifyInstance | null = null

  constructor(opts: DashboardOptions) {
    this.#opts = opts
  }

  async listen(): Promise<{ host: string; port: number }> {
    const assets = await this.#readAssets()
    const app = Fastify({ forceCloseConnections: true, requestTimeout: 10_000 })
    this.#app = app
    app.addHook('onRequest', async (req, reply) => {
      const refusal = this.#policy.check(req.raw, 'protected')
      if (refusal !== null) return reply.code(refusal.status).send({ error: refusal.error, code: refusal.code })
    })
    app.get('/', (_req, reply) => reply.redirect('/dashboard'))
    app.get('/dashboard', (_req, reply) => reply.type('text/html').send(shell('dashboard')))
    app.get('/live', (_req, reply) => reply.type('text/html').send(shell('live')))
    app.get('/assets/app.js', (_req, reply) => reply.type('text/javascript').send(assets.js))
    app.get('/assets/app.css', (_req, reply) => reply.type('text/css').send(assets.css))
    app.get('/api/services', () => ({ services: this.#opts.services }))
    app.get('/api/status', async () => ({ services: await collectStatus(this.#opts.services), timestamp: Date.now() }))
    // One channel of one service: its presence and recent history, read from the service (read-only).
    app.get('/api/channel', async (req, reply) => {
      const q = req.query as { service?: string; channel?: string }
      const target = this.#opts.services.find((t) => t.name === q.service)
      if (target === undefined || typeof q.channel !== 'string' || q.channel === '') {
        return reply.code(400).send({ error: 'Query needs service (one of the dashboard\'s services) and channel', code: 'INVALID_PARAMS' })
      }
      return channelDetail(target, q.channel)
    })
    await app.listen({ host: this.#opts.host, port: this.#opts.port })
    const addr = app.server.address()
    const port = typeof addr === 'object' && addr !== null ? addr.port : this.#opts.port
    this.#opts.logger.info({ host: this.#opts.host, port }, 'dashboard listening')
    return { host: this.#opts.host, port }
  }

  async close(): Promise<void> {
    await this.#app?.close()
  }

  async #readAssets(): Promise<{ js: string; css: string }> {
    try {
      const [js, css] = await Promise.all(['app.js', 'app.css'].map((f) => readFile(join(this.#opts.assets, f), 'utf8')))
      return { js: js as string, css: css as string }
    } catch (err) {
      throw new Error(`The dashboard page is not built (${(err as Error).message}): run npm run build`, { cause: err })
    }
  }
}
