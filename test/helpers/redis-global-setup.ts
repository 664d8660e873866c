import type { TestProject } from 'vitest/node'
import { TestRedis } from './redis.js'

declare module 'vitest' {
  export interface ProvidedContext {
    /** Set in the `redis` project: every service a test starts has its broker on this Redis. */
    redisUrl: string | null
  }
}

/** Starts one redis-server for the `redis` test project. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const redis = await TestRedis.start()
  project.provide('redisUrl', redis.url)
  return () => redis.kill()
}
