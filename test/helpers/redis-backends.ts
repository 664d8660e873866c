import { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll } from 'vitest'
import { type ClusterBroker, RedisBroker, RedisClusterBroker } from '../../src/index.js'
import type { ClusterTimings } from '../../src/broker/cluster-broker.js'
import { redisClusterNames, redisNames } from '../../src/broker/redis-channels.js'
import { TestRedis } from './redis.js'
import { TestRedisCluster } from './redis-cluster.js'

/** The two Redis brokers the cluster suites run on. */
export const BACKENDS = ['redis', 'redis-cluster'] as const
export type BackendKind = (typeof BACKENDS)[number]

/** What a hand-built broker takes beside its address. */
export type BrokerTimings = ClusterTimings & { readonly historyTimeoutMs?: number }

/** Where a test's instances meet: one redis-server, or a Redis Cluster of three masters with a replica each. */
export interface RedisBackend {
  readonly kind: BackendKind
  /** The `redis` settings block for instances sharing `prefix`. */
  settings(prefix: string): { url: string; prefix: string } | { cluster: string[]; prefix: string }
  /** A broker built by hand, for tests that need other timings. */
  broker(prefix: string, timings?: BrokerTimings): ClusterBroker
  /** The environment that points a `roomcast serve` process at it. */
  env(): Record<string, string>
  /** Publishes raw bytes where the instances of `service` listen for room `channel` (PUBLISH, or SPUBLISH on its bucket). */
  rawPublish(prefix: string, service: string, channel: string, bytes: string): Promise<void>
  /** Kills every Redis process (SIGKILL, a crash). */
  kill(): Promise<void>
  /** Starts them again on the same ports, empty; resolves when they serve (a cluster: every slot has a master). */
  restart(): Promise<void>
  stop(): Promise<void>
}

/** A backend shared by the tests of a describe: one that a test killed is started again by `revive`. */
export interface SharedBackend extends RedisBackend {
  /** Restarts the backend if a test killed it and left it down (call it in afterEach). */
  revive(): Promise<void>
}

function onRedis(redis: TestRedis): RedisBackend {
  return {
    kind: 'redis',
    settings: (prefix) => ({ url: redis.url, prefix }),
    broker: (prefix, timings = {}) => new RedisBroker({ ...timings, url: redis.url, prefix }),
    env: () => ({ REDIS_URL: redis.url }),
    async rawPublish(prefix, service, channel, bytes) {
      const raw = new Redis(redis.url)
      try {
        await raw.publish(redisNames(prefix, service).room(channel), bytes)
      } finally {
        raw.disconnect()
      }
    },
    kill: () => redis.kill(),
    restart: () => redis.restart(),
    stop: () => redis.kill(),
  }
}

function onCluster(cluster: TestRedisCluster): RedisBackend {
  const nodes = () => cluster.addresses.slice(0, 3)
  const ports = cluster.nodes.map((n) => n.port)
  return {
    kind: 'redis-cluster',
    settings: (prefix) => ({ cluster: nodes(), prefix }),
    broker: (prefix, timings = {}) =>
      new RedisClusterBroker({ ...timings, prefix, nodes: cluster.nodes.slice(0, 3).map((n) => ({ host: '127.0.0.1', port: n.port })) }),
    env: () => ({ REDIS_CLUSTER_NODES: nodes().join(',') }),
    async rawPublish(prefix, service, channel, bytes) {
      const raw = new Cluster(cluster.nodes.slice(0, 3).map((n) => ({ host: '127.0.0.1', port: n.port })))
      try {
        await raw.spublish(redisClusterNames(prefix, service).room(channel), bytes)
      } finally {
        raw.disconnect()
      }
    },
    kill: async () => {
      await Promise.all(ports.map((p) => cluster.kill(p)))
    },
    restart: async () => {
      await Promise.all(ports.map((p) => cluster.restart(p)))
      await cluster.settled()
    },
    stop: () => cluster.stop(),
  }
}

/** Starts one backend of `kind`, e.g. for a suite of its own. */
export async function startBackend(kind: BackendKind): Promise<RedisBackend> {
  return kind === 'redis' ? onRedis(await TestRedis.start()) : onCluster(await TestRedisCluster.start())
}

/**
 * One backend of `kind` for the tests of the enclosing describe: started before them, stopped
 * after (a Redis Cluster takes a few seconds to form, so a file starts one, not one per test).
 */
export function useBackend(kind: BackendKind): SharedBackend {
  let started: RedisBackend | null = null
  let down = false
  beforeAll(async () => {
    started = await startBackend(kind)
  }, 90_000)
  afterAll(async () => started?.stop())
  const get = (): RedisBackend => {
    if (started === null) throw new Error(`the ${kind} backend is not started (useBackend belongs in a describe)`)
    return started
  }
  return {
    kind,
    settings: (prefix) => get().settings(prefix),
    broker: (prefix, timings) => get().broker(prefix, timings),
    env: () => get().env(),
    rawPublish: (...args) => get().rawPublish(...args),
    kill: async () => {
      down = true
      await get().kill()
    },
    restart: async () => {
      await get().restart()
      down = false
    },
    revive: async () => {
      if (!down) return
      await get().restart()
      down = false
    },
    stop: () => get().stop(),
  }
}
