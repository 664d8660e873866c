import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { type ServerPlugin, type Settings } from '../../src/index.js'
import { redisNames } from '../../src/broker/redis-channels.js'
import { openRedis } from '../../src/broker/redis-connection.js'
import { type FiguresExchange, MemoryFigures, RedisFigures } from './cluster-figures.js'
import { type MetricsInputs, MetricsPublisher } from './metrics-publisher.js'
import { MemoryRestoreStore, RedisRestoreStore, type RestoreStore } from './restore-store.js'

/** A publisher's lock and figures outlive it by this many intervals: then another instance takes over. */
const LOCK_INTERVALS = 3

/**
 * The context service's state shared between its instances: the agents' kept subscriptions and
 * the metrics publisher. On Redis when `redis.url` is set (one connection of its own, beside
 * the broker's), in memory otherwise. A plugin, so the server starts and stops it.
 */
export class ContextCluster implements ServerPlugin {
  readonly name = 'context'
  readonly restore: RestoreStore
  readonly metrics: MetricsPublisher
  readonly #redis: Redis | null
  readonly #log: Logger

  constructor(settings: Settings, service: string, instanceId: string, inputs: MetricsInputs, log: Logger) {
    this.#log = log
    const ctx = settings.context
    const url = settings.redis.url
    this.#redis = url === null ? null : openRedis(url, `roomcast:${service}:state`)
    this.#redis?.on('error', (err: Error) => this.#log.debug({ err }, 'context state: Redis error'))
    let figures: FiguresExchange
    if (this.#redis === null) {
      this.restore = new MemoryRestoreStore({ ttlSeconds: ctx.restore_ttl, maxAgents: ctx.restore_max_agents, maxChannels: settings.max_subscriptions })
      figures = new MemoryFigures()
    } else {
      const names = redisNames(settings.redis.prefix, service)
      this.restore = new RedisRestoreStore(this.#redis, names.restore, { ttlSeconds: ctx.restore_ttl, maxChannels: settings.max_subscriptions })
      const keys = { lock: names.lock('metrics'), index: names.figuresIndex, figures: names.figures }
      figures = new RedisFigures(this.#redis, keys, instanceId, ctx.metrics_interval * LOCK_INTERVALS)
    }
    this.metrics = new MetricsPublisher(figures, inputs, { intervalSeconds: ctx.metrics_interval, instanceId, log })
  }

  setup(): void {}

  async start(): Promise<void> {
    // Redis may be down at boot: the service still serves, and the state catches up once it is back.
    await this.#redis?.connect().catch((err: unknown) => this.#log.warn({ err }, 'context state: Redis not reachable yet'))
    this.metrics.start()
  }

  async stop(): Promise<void> {
    await this.metrics.stop()
    this.#redis?.disconnect()
  }

  status() {
    return { store: this.restore.kind, metrics_published: this.metrics.published }
  }
}
