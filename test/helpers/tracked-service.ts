import { randomUUID } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { inject } from 'vitest'
import { z } from 'zod'
import { flatDialect, MetricsPlugin, parseSettings, type ServiceSpec, type SettingsInput, WebSocketServer } from '../../src/index.js'
import type { Broker } from '../../src/broker/broker.js'
import { until } from './cluster.js'

/** Log lines of one server, as parsed JSON, with an event per line so a test can wait for one. */
export class LogSink extends EventEmitter {
  readonly lines: Record<string, unknown>[] = []
  readonly stream = new Writable({
    write: (chunk: Buffer, _enc, done) => {
      for (const line of chunk.toString().split('\n')) {
        if (line === '') continue
        this.lines.push(JSON.parse(line) as Record<string, unknown>)
        this.emit('line')
      }
      done()
    },
  })

  /** Resolves once `count` lines with message `msg` were logged. */
  async waitFor(msg: string, count = 1, timeoutMs = 10_000): Promise<Record<string, unknown>[]> {
    const matching = () => this.lines.filter((l) => l.msg === msg)
    await until(this, 'line', () => matching().length >= count, timeoutMs, `${count} log line(s) "${msg}"`)
    return matching()
  }
}

const events = { 'task.created': z.looseObject({}), 'note.added': z.looseObject({}) }

/** Tiny services for delivery tests, one per dialect: `task.created` is tracked, `note.added` is not. */
export const trackedSpecs: Record<'envelope' | 'flat', ServiceSpec<typeof events>> = {
  envelope: { name: 'tracked', welcome: 'tracked test service', channels: [{ pattern: 'tasks:{id}' }, { pattern: 'global' }], events },
  // Shaped like the context service: private agents/{id}, topics, auto-subscribed global.
  flat: {
    name: 'tracked',
    welcome: 'tracked flat test service',
    channels: [{ pattern: 'global' }, { pattern: 'topics/{topic}' }, { pattern: 'agents/{id}', privateTo: 'id' }],
    events,
    dialect: flatDialect(),
    autoSubscribe: ['global'],
  },
}

export interface TrackedNode {
  server: WebSocketServer
  url: string
  http: string
  logs: LogSink
}

/**
 * Starts the tiny service of `dialect` with `task.*` tracked and the given settings. In the redis project (or
 * with `redis`), its broker runs over Redis under `redis.prefix` (a fresh one unless given); `broker`, one built by
 * hand (other timings), replaces the one the settings ask for.
 */
export async function startTracked(
  settings: SettingsInput = {},
  redis?: { url: string; prefix: string } | { cluster: string[]; prefix: string },
  dialect: 'envelope' | 'flat' = 'envelope',
  broker?: Broker,
): Promise<TrackedNode> {
  const redisUrl = inject('redisUrl') ?? null
  const clustered = redis !== undefined ? { redis } : redisUrl === null ? {} : { redis: { url: redisUrl, prefix: `test-${randomUUID()}:` } }
  const parsed = parseSettings({
    port: 0,
    log_level: 'warn',
    drain_timeout: 2,
    ...clustered,
    ...settings,
    delivery: { tracked: ['task.*'], ...settings.delivery },
  })
  const logs = new LogSink()
  const server = new WebSocketServer(trackedSpecs[dialect], parsed, {
    logger: pino({ level: parsed.log_level }, logs.stream),
    ...(broker !== undefined ? { broker } : {}),
  })
  server.use(new MetricsPlugin())
  const { port } = await server.listen()
  return { server, logs, url: `ws://127.0.0.1:${port}/ws`, http: `http://127.0.0.1:${port}` }
}

/** GET /stats of a node: its `delivery` block. */
export async function deliveryStats(node: TrackedNode): Promise<Record<string, unknown>> {
  const res = await fetch(`${node.http}/stats`)
  return ((await res.json()) as { delivery: Record<string, unknown> }).delivery
}
