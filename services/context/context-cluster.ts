import type { Cluster, Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { ServerPlugin } from '../../src/server/plugin.js'
import type { Settings } from '../../src/config/settings.js'
import { redisClusterNames, redisNames } from '../../src/broker/redis-channels.js'
import { parseNode } from '../../src/broker/redis-cluster-check.js'
import { openRedis, openRedisCluster } from '../../src/broker/redis-connection.js'
import { CLOSE_WAIT_MS, settledWithin } from '../../src/broker/outstanding-writes.js'
import type { SharedState } from '../../src/server/worker-group.js'
import { type FiguresExchange, MemoryFigures, RedisFigures, SharedFigures } from './cluster-figures.js'
import { type MetricsInputs, MetricsPublisher } from './metrics-publisher.js'
import { MemoryRestoreStore, RedisRestoreStore, type RestoreStore, SharedRestoreStore } from './restore-store.js'

/** A publisher's lock and figures outlive it by this many intervals: then another instance takes over. */
const LOCK_INTERVALS = 3

/**
 * The context service's state shared between its instances: the agents' kept subscriptions and
 * the metrics publisher. On Redis when `redis.url` is set, on the Redis Cluster when
 * `redis.cluster` is (one connection of its own, beside the broker's; every key shares the
 * service's fixed hash tag, so the figures' MULTI and MGET touch one slot); else, for workers
 * (`workers: N`), in their primary; else in memory.
 * A plugin, so the server starts and stops it.
 */
export class ContextCluster implements ServerPlugin {
  readonly name = 'context'
  readonly restore: RestoreStore
  readonly metrics: MetricsPublisher
  readonly #redis: Redis | Cluster | null
  readonly #log: Logger

  constructor(settings: Settings, service: string, instanceId: string, inputs: MetricsInputs, log: Logger, shared: SharedState | null = null) {
    this.#log = log
    const ctx = settings.context
    const { url, cluster, prefix } = settings.redis
    const name = `roomcast:${service}:state`
    // The settings checked every node; parseNode cannot answer null here.
    if (cluster !== null) this.#redis = openRedisCluster(cluster.flatMap((n) => parseNode(n) ?? []), name)
    else this.#redis = url === null ? null : openRedis(url, name)
    this.#redis?.on('error', (err: Error) => this.#log.debug({ err }, 'context state: Redis error'))
    let figures: FiguresExchange
    if (this.#redis === null && shared !== null) {
      this.restore = new SharedRestoreStore(shared, { ttlSeconds: ctx.restore_ttl, maxChannels: settings.max_subscriptions })
      figures = new SharedFigures(shared, instanceId, ctx.metrics_interval * LOCK_INTERVALS)
    } else if (this.#redis === null) {
      this.restore = new MemoryRestoreStore({ ttlSeconds: ctx.restore_ttl, maxAgents: ctx.restore_max_agents, maxChannels: settings.max_subscriptions })
      figures = new MemoryFigures()
    } else {
      const names = cluster !== null ? redisClusterNames(prefix, service) : redisNames(prefix, service)
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
    // Bounded: leaving the figures is a MULTI, and a Redis that accepts and never answers (stopped)
    // must not hang the stop; disconnect() then fails it (logged) and closes the connection.
    await settledWithin(this.metrics.stop(), CLOSE_WAIT_MS)
    this.#redis?.disconnect()
  }

  status() {
    return { store: this.restore.kind, metrics_published: this.metrics.published }
  }
}
