import type { Logger } from 'pino'
import type { Settings } from '../config/settings.js'
import type { Broker } from './broker.js'
import { MemoryBroker } from './memory-broker.js'
import { RedisBroker } from './redis-broker.js'
import { RedisClusterBroker } from './redis-cluster-broker.js'
import { parseNode } from './redis-cluster-check.js'

/** The broker a service's settings ask for: Redis Cluster when `redis.cluster` is set, Redis when `redis.url` is, else in memory. */
export function createBroker(redis: Settings['redis'], logger?: Logger): Broker {
  const log = logger !== undefined ? { logger } : {}
  if (redis.cluster !== null) {
    // The settings checked every entry; parseNode cannot answer null here.
    const nodes = redis.cluster.flatMap((n) => parseNode(n) ?? [])
    return new RedisClusterBroker({ nodes, source: 'redis.cluster (REDIS_CLUSTER_NODES, or a redis+cluster:// url)', prefix: redis.prefix, ...log })
  }
  if (redis.url === null) return new MemoryBroker()
  return new RedisBroker({ url: redis.url, prefix: redis.prefix, ...log })
}
