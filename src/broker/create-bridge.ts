import type { Logger } from 'pino'
import type { Settings } from '../config/settings.js'
import type { Bridge } from './bridge.js'
import { MemoryBridge } from './memory-bridge.js'
import { RedisBridge } from './redis-bridge.js'

/** The bridge a service's settings ask for: Redis when `redis.url` is set, else in memory. */
export function createBridge(redis: Settings['redis'], logger?: Logger): Bridge {
  if (redis.url === null) return new MemoryBridge()
  return new RedisBridge({ url: redis.url, prefix: redis.prefix, ...(logger !== undefined ? { logger } : {}) })
}
