import { randomUUID } from 'node:crypto'
import type { EventEmitter } from 'node:events'
import { pino } from 'pino'
import { z } from 'zod'
import { type ClusterBroker, parseSettings, RedisBroker, type SettingsInput, WebSocketServer } from '../../src/index.js'
import type { BrokerTimings, RedisBackend } from './redis-backends.js'
import { startService, type Started } from './server.js'

/**
 * Safety timeout of the waits below: many times what they take (a new instance is heard within
 * one 2 s heartbeat, a reconnect within the 1 s retry cap; measured 0.5 s), under the test timeout.
 */
const SAFETY_MS = 15_000

/** Resolves once `check()` holds, re-checking on every `event` of `emitter`; rejects after `timeoutMs`. */
export function until(emitter: EventEmitter, event: string, check: () => boolean, timeoutMs = SAFETY_MS, what = event): Promise<void> {
  if (check()) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const onEvent = () => {
      if (!check()) return
      cleanup()
      resolve()
    }
    const timer = setTimeout(() => {
      cleanup()
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`))
    }, timeoutMs)
    const cleanup = () => {
      clearTimeout(timer)
      emitter.off(event, onEvent)
    }
    emitter.on(event, onEvent)
  })
}

/** The broker of an instance on Redis or on a Redis Cluster. */
export function redisBrokerOf(server: WebSocketServer): ClusterBroker {
  if (server.broker.kind !== 'redis' && server.broker.kind !== 'redis-cluster') throw new Error(`expected a redis broker, got ${server.broker.kind}`)
  return server.broker as ClusterBroker
}

/** One redis-server's URL, or a backend (redis-backends.ts): where instances meet. */
export type RedisAt = string | RedisBackend

const redisSettings = (at: RedisAt, prefix: string) => (typeof at === 'string' ? { url: at, prefix } : at.settings(prefix))
const brokerFor = (at: RedisAt, prefix: string, timings: BrokerTimings) =>
  typeof at === 'string' ? new RedisBroker({ ...timings, url: at, prefix }) : at.broker(prefix, timings)

/** Waits until the instance's broker is in `state`. */
export function brokerState(server: WebSocketServer, state: string, timeoutMs = SAFETY_MS): Promise<void> {
  const broker = redisBrokerOf(server)
  return until(broker, 'state', () => broker.state === state, timeoutMs, `broker of ${server.instanceId.slice(0, 8)} to be ${state}`)
}

/**
 * Waits until every instance counts `n` live instances and is `connected`: its receiving side has
 * subscribed its rooms (or every room, for a service that observes them all). Peers alone are not
 * enough: their heartbeats arrive on the cluster channels, subscribed before the rooms, and an
 * instance whose start outlasted the broker's start timeout serves while that subscribe is in flight
 * (a publication from another instance meanwhile does not reach it; fresh-clone CI, 2026-12-07).
 */
export async function clusterFormed(servers: readonly WebSocketServer[], n = servers.length): Promise<void> {
  await Promise.all(
    servers.map(async (s) => {
      const broker = redisBrokerOf(s)
      await until(broker, 'peers', () => broker.stats().instances === n, SAFETY_MS, `${n} instances`)
      await brokerState(s, 'connected')
    }),
  )
}

/**
 * Starts `n` instances of one service on one Redis (or a Redis Cluster), sharing a fresh prefix.
 * `timings` (e.g. a directTimeoutMs longer than the test) build each instance's broker by hand.
 */
export async function startCluster<S extends WebSocketServer = WebSocketServer>(
  service: string,
  redis: RedisAt,
  n: number,
  settings: SettingsInput = {},
  timings?: BrokerTimings,
): Promise<Started<S>[]> {
  const prefix = `cluster-${randomUUID().slice(0, 8)}:`
  const nodes: Started<S>[] = []
  for (let i = 0; i < n; i++) {
    const broker = timings === undefined ? {} : { broker: brokerFor(redis, prefix, timings) }
    nodes.push(await startService<S>(service, { ...settings, redis: redisSettings(redis, prefix) }, broker))
  }
  return nodes
}

/** A service without a projection: its broker subscribes room by room. Channels `room:{id}`, event `note`. */
export async function startPlain(redis: RedisAt, prefix: string): Promise<WebSocketServer & { url: string }> {
  const spec = { name: 'plain', welcome: 'hello', channels: [{ pattern: 'room:{id}' }], events: { note: z.looseObject({}) } }
  const settings = parseSettings({ port: 0, log_level: 'silent', allow_client_publish: true, redis: redisSettings(redis, prefix) })
  const server = new WebSocketServer(spec, settings, { logger: pino({ level: 'silent' }) })
  await server.listen()
  return Object.assign(server, { url: `ws://127.0.0.1:${server.port}/ws` })
}
