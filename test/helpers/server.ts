import { pino } from 'pino'
import { SERVICES } from '../../services/index.js'
import { type Bridge, parseSettings, type SettingsInput, type WebSocketServer } from '../../src/index.js'

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
  options: { bridge?: Bridge } = {},
): Promise<Started<S>> {
  const entry = SERVICES[name]
  if (entry === undefined) throw new Error(`no service ${name}`)
  const parsed = parseSettings({ port: 0, log_level: 'silent', drain_timeout: 2, ...settings })
  const server = entry.create(parsed, { logger: pino({ level: parsed.log_level }), ...options }) as S
  const { port } = await server.listen()
  return { server, port, url: `ws://127.0.0.1:${port}/ws`, http: `http://127.0.0.1:${port}` }
}
