import { Writable } from 'node:stream'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { SERVICES } from '../../services/index.js'
import { parseSettings, type WebSocketServer } from '../../src/index.js'

let server: WebSocketServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

/** A service logging at debug into `lines`; a test route logs its request the way fastify's request logging does. */
async function startLogging(lines: string[]): Promise<{ port: number; http: string }> {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(String(chunk))
      done()
    },
  })
  const settings = parseSettings({ port: 0, log_level: 'debug', drain_timeout: 2, trust_proxy: true, allowed_origins: ['https://app.example.com'] })
  server = SERVICES.context!.create(settings, { logger: pino({ level: 'debug' }, sink) })
  server.use({
    name: 'request-echo',
    setup(_view, app) {
      app.get('/echo', { config: { access: 'public' } }, async (req) => {
        req.log.info({ req }, 'incoming request')
        return { ok: true }
      })
    },
  })
  const { port } = await server.listen()
  return { port, http: `http://127.0.0.1:${port}` }
}

/** An upgrade that the server must refuse: resolves with the HTTP status it answered. */
function refusedUpgrade(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers })
    ws.once('unexpected-response', (_req, res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    ws.once('open', () => reject(new Error('upgrade was accepted')))
    ws.once('error', (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err)
    })
  })
}

describe('no log line carries a query string value', () => {
  it('a refused upgrade, a refused HTTP request and a logged request with ?token=secret123 leave the secret out of the log', async () => {
    const lines: string[] = []
    const { port, http } = await startLogging(lines)
    const secret = 'token=secret123&agent_id=alice'
    expect(await refusedUpgrade(`ws://127.0.0.1:${port}/ws?${secret}`, { origin: 'https://evil.example' })).toBe(403)
    expect(await refusedUpgrade(`ws://127.0.0.1:${port}/nope?${secret}`, { host: 'evil.example' })).toBe(403)
    const refused = await fetch(`${http}/stats?${secret}`, { headers: { 'x-forwarded-for': '203.0.113.7' } })
    expect(refused.status).toBe(403)
    const echoed = await fetch(`${http}/echo?${secret}`)
    expect(await echoed.json()).toEqual({ ok: true })
    // A bare query (no `=`) may be the secret itself.
    expect((await fetch(`${http}/stats?secret123`, { headers: { 'x-forwarded-for': '203.0.113.7' } })).status).toBe(403)

    const log = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    const logged = (msg: string) => log.filter((l) => l.msg === msg)
    // The lines are there, path and query keys kept, values gone.
    expect(logged('upgrade refused by the access policy').map((l) => l.url)).toEqual(['/ws?token=REDACTED&agent_id=REDACTED', '/nope?token=REDACTED&agent_id=REDACTED'])
    expect(logged('request refused by the access policy').map((l) => l.url)).toEqual(['/stats?token=REDACTED&agent_id=REDACTED', '/stats?REDACTED'])
    expect(logged('incoming request').map((l) => (l.req as Record<string, unknown>).url)).toEqual(['/echo?token=REDACTED&agent_id=REDACTED'])
    expect(lines.join('')).not.toContain('secret123')
    expect(lines.join('')).not.toContain('alice')
  })
})
