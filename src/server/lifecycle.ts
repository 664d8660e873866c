import type { FastifyInstance } from 'fastify'
import type { BrokerSink } from '../broker/broker.js'
import type { Publication } from '../protocol/messages.js'
import type { Admission } from './admission.js'
import { drainConnections } from './drain.js'
import { createApp } from './http-app.js'
import type { TlsFiles } from './http-transport.js'
import type { ServerPlugin } from './plugin.js'
import type { Lifecycle, ServerView } from './server-view.js'

/** The server the lifecycle starts and stops: a view for routes and plugins, a sink for the broker. */
export interface LifecycleHost extends ServerView, BrokerSink {}

/** The server's parts the lifecycle wires together. */
export interface LifecycleParts {
  readonly admission: Admission
  readonly tls: TlsFiles | null
  /** The service keeps a projection: it must see every publication, not only its local rooms'. */
  observeAll(): boolean
  /** Whether a publication from another instance is valid here. */
  accepts(pub: Publication): boolean
}

/**
 * A server's lifecycle, idle → starting → running → draining → stopped. listen(): the app
 * (HTTP, upgrade, routes), plugins' setup, broker start, bind, keepalive, plugins' start.
 * close(): the drain (stop accepting, clients closed with 1001, bounded wait, broker and
 * delivery closed), then plugins' stop.
 */
export class ServerLifecycle {
  readonly #server: LifecycleHost
  readonly #parts: LifecycleParts
  readonly #plugins: ServerPlugin[] = []
  #app: FastifyInstance | null = null
  #state: Lifecycle = 'idle'
  #stopHeartbeat: (() => void) | null = null
  #closing: Promise<void> | null = null
  #draining: Promise<void> | null = null
  #port = 0

  constructor(server: LifecycleHost, parts: LifecycleParts) {
    this.#server = server
    this.#parts = parts
  }

  get state(): Lifecycle {
    return this.#state
  }

  /** The bound port (after listen). */
  get port(): number {
    return this.#port
  }

  /** Attaches a plugin; must be called before listen(). */
  use(plugin: ServerPlugin): void {
    if (this.#state !== 'idle') throw new Error(`Cannot add plugin ${plugin.name}: server is ${this.#state}`)
    this.#plugins.push(plugin)
    if (plugin.status !== undefined) this.#server.statusRegistry.register({ name: plugin.name, status: () => plugin.status?.() ?? {} })
  }

  async listen(): Promise<{ host: string; port: number }> {
    if (this.#state !== 'idle') throw new Error(`Cannot listen: server is ${this.#state}`)
    this.#state = 'starting'
    const server = this.#server
    const { admission, tls } = this.#parts
    const app = (this.#app = createApp(server, tls, {
      accepting: () => this.#state === 'running' || this.#state === 'starting',
      admit: (socket, req) => admission.admit(socket, req),
      drain: () => this.#drain(),
    }))
    for (const plugin of this.#plugins) await plugin.setup(server, app)
    await server.broker.start(server, {
      id: server.instanceId,
      service: server.name,
      connections: () => server.connectionCount,
      observeAll: this.#parts.observeAll(),
      accepts: (pub) => this.#parts.accepts(pub),
    })
    const broker = server.broker
    server.delivery.join(server.instanceId, {
      send: (msg) => broker.sendDelivery(msg),
      get connected() {
        return broker.state === 'connected'
      },
    }, broker.pending)
    const { host, port } = server.settings
    await app.listen({ host, port })
    const addr = app.server.address()
    this.#port = typeof addr === 'object' && addr !== null ? addr.port : port
    this.#stopHeartbeat = admission.startKeepalive()
    try {
      for (const plugin of this.#plugins) await plugin.start?.()
    } catch (err) {
      await this.close()
      throw err
    }
    this.#state = 'running'
    server.log.info({ host, port: this.#port, bridge: broker.state }, 'listening')
    return { host, port: this.#port }
  }

  /** Graceful shutdown: stop accepting, close clients with 1001, bounded drain, close the broker. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      // The drain first, outside fastify's close: fastify bounds a preClose hook by its plugin
      // timeout (10 s), and a hook that outlives it leaves app.close() pending for good (the
      // plugins' stop never runs, their connections keep the process alive). The app still
      // listens meanwhile, so a late upgrade is answered 503; its preClose hook then finds the
      // drain done.
      await this.#drain()
      await this.#app?.close()
      for (const plugin of this.#plugins) {
        await plugin.stop?.().catch((err: unknown) => this.#server.log.error({ err, plugin: plugin.name }, 'plugin stop failed'))
      }
      this.#state = 'stopped'
    })()
    return this.#closing
  }

  /** The drain, once: a second call (fastify's preClose hook after close()) waits for the first. */
  #drain(): Promise<void> {
    this.#draining ??= this.#drainOnce()
    return this.#draining
  }

  async #drainOnce(): Promise<void> {
    if (this.#state === 'stopped') return
    // A server that never ran (its listen failed) has nothing drained worth a log line.
    const ran = this.#state === 'running'
    this.#state = 'draining'
    this.#stopHeartbeat?.()
    const server = this.#server
    await drainConnections(this.#parts.admission.connections, server.settings.drain_timeout * 1000, server.log)
    await server.broker.close()
    server.delivery.close()
    if (ran) server.log.info('drained')
  }
}
