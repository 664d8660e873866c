import { randomUUID } from 'node:crypto'
import { pino } from 'pino'
import { inject } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { createDeclared } from '../../services/declared/index.js'
import { SERVICES } from '../../services/index.js'
import { type Broker, parseSettings, type ServerOptions, type Settings, type SettingsInput, type WebSocketServer } from '../../src/index.js'

export interface Started<S extends WebSocketServer = WebSocketServer> {
  server: S
  port: number
  url: string
  http: string
}

/** Starts a service on a free port with test-friendly settings (silent logs, fast drain). */
export async function startService<S extends WebSocketServer = WebSocketServer>(
  name: string,
  settings: SettingsInput = {},
  options: { broker?: Broker } = {},
): Promise<Started<S>> {
  const entry = SERVICES[name]
  if (entry === undefined) throw new Error(`no service ${name}`)
  return startServer((s, o) => entry.create(s, o) as S, settings, options)
}

/** Starts any server (e.g. a test-only service) the way startService does. */
export async function startServer<S extends WebSocketServer>(
  create: (settings: Settings, options: ServerOptions) => S,
  settings: SettingsInput = {},
  options: { broker?: Broker } = {},
): Promise<Started<S>> {
  // In the redis project every server's broker runs over the test Redis, under a prefix of its own
  // so that test files running in parallel do not hear each other.
  const redisUrl = inject('redisUrl') ?? null
  const redis = redisUrl === null ? {} : { redis: { url: redisUrl, prefix: `test-${randomUUID()}:` } }
  const parsed = parseSettings({ port: 0, log_level: 'silent', drain_timeout: 2, ...redis, ...settings })
  const server = create(parsed, { logger: pino({ level: parsed.log_level }), ...options })
  const { port } = await server.listen()
  return { server, port, url: `ws://127.0.0.1:${port}/ws`, http: `http://127.0.0.1:${port}` }
}

/**
 * Publishes workflow.started events `{workflow_id: 'w<i>', blob}` on `channel` until the server
 * has closed a slow consumer (a subscriber that stopped reading), at most `max` events. `after`
 * runs after each publish (read a fast subscriber's copy, or yield). Kernel buffers absorb some
 * megabytes before the server's own buffer grows, so `max` × `blobBytes` must be far beyond them.
 * Returns how many events were published.
 */
export async function publishUntilSlowClose(
  server: WebSocketServer,
  channel: string,
  blobBytes: number,
  after: (i: number) => Promise<unknown>,
  max = 2000,
): Promise<number> {
  const blob = 'x'.repeat(blobBytes)
  let i = 0
  while (server.stats.slowConsumerCloses === 0 && i < max) {
    server.publish(channel, 'workflow.started', { workflow_id: `w${i}`, blob })
    await after(i++)
  }
  return i
}

/** Starts a service declared in YAML alone (a settings document with a `service:` block). */
export async function startDeclared(yaml: string, settings: SettingsInput = {}): Promise<Started> {
  // A shipped file names its service's real port (dhruva 8693): a free one here, or the memory and
  // redis projects running the same file at once collide on it (EADDRINUSE, fresh-clone CI 2026-12-07).
  return startServer((s, o) => createDeclared(s, o), { ...(parseYaml(yaml) as SettingsInput), port: 0, ...settings })
}
