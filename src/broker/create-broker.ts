import type { Logger } from 'pino'
import type { Settings } from '../config/settings.js'
import type { Broker } from './broker.js'
import { MemoryBroker } from './memory-broker.js'
import { RedisBroker } from './redis-broker.js'

/** The broker a service's settings ask for: Redis when `redis.url` is set, else in memory. */
export function createBroker(redis: Settings['redis'], logger?: Logger): Broker {
  if (redis.url === null) return new MemoryBroker()
  return new RedisBroker({ url: redis.url, prefix: redis.prefix, ...(logger !== undefined ? { logger } : {}) })
}
