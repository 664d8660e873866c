import { createRequire } from 'node:module'
import type * as IORedis from 'ioredis'
import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis'

/** ioredis, loaded on the first connection: a service without Redis never loads it. */
export function ioredis(): typeof IORedis {
  return createRequire(import.meta.url)('ioredis') as typeof IORedis
}

/** How the broker reconnects and how long it waits; every bound has a default. */
export interface RedisTimings {
  /** Longest pause between reconnect attempts. @default 1000 ms */
  readonly retryMaxMs?: number
  /** TCP connect timeout of one attempt. @default 2000 ms */
  readonly connectTimeoutMs?: number
}

/**
 * ioredis options for the broker's connections. Commands never queue while Redis is away
 * (`enableOfflineQueue: false`): a publish then fails at once and is counted, instead of
 * piling up in memory and arriving late, out of date. Reconnects go on forever, backing off
 * to `retryMaxMs`. Subscriptions are restored by the broker itself on `ready`, because a
 * SUBSCRIBE attempted while Redis was away is not remembered by ioredis.
 */
export function redisOptions(name: string, timings: RedisTimings = {}): RedisOptions {
  const retryMax = timings.retryMaxMs ?? 1000
  return {
    lazyConnect: true,
    connectionName: name,
    // RESP3 (HELLO 3), ioredis 6's default, pinned: it is what every test runs on, on one Redis and
    // on a Redis Cluster. The broker reads only arrays, strings and numbers, the same in RESP2.
    protocol: 3,
    enableOfflineQueue: false,
    // Publishes issued in one tick go out in one write, in order (a broadcast burst costs one syscall).
    enableAutoPipelining: true,
    autoResubscribe: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    connectTimeout: timings.connectTimeoutMs ?? 2000,
    // disconnect() ends the socket and destroys it if Redis has not closed its side by then: a
    // stopped Redis never does, and the socket would hold the exit of a stopping process (ioredis: 2 s).
    disconnectTimeout: 1000,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 10), retryMax),
  }
}

/** One Redis connection for `url` (`redis://[:password@]host:port/db`). */
export function openRedis(url: string, name: string, timings?: RedisTimings): Redis {
  return new (ioredis().Redis)(url, redisOptions(name, timings))
}

/** The URL without its password, for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password !== '') u.password = '***'
    return u.toString()
  } catch {
    return '(unparsable url)'
  }
}

/**
 * One ioredis `Cluster` over `nodes` (any reachable nodes; the rest are discovered), with the
 * broker's node options: no offline queue, auto-pipelining, reconnects backing off to
 * `retryMaxMs`. `extra` adds cluster options (the transport's sharded subscribers).
 */
export function openRedisCluster(
  nodes: readonly { readonly host: string; readonly port: number }[],
  name: string,
  timings: RedisTimings = {},
  extra: ClusterOptions = {},
): Cluster {
  const { retryStrategy, lazyConnect: _lazy, ...nodeOptions } = redisOptions(name, timings)
  return new (ioredis().Cluster)(
    nodes.map((n) => ({ host: n.host, port: n.port })),
    {
      lazyConnect: true,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      clusterRetryStrategy: (times: number) => retryStrategy?.(times) ?? 1000,
      redisOptions: nodeOptions,
      ...extra,
    },
  )
}
