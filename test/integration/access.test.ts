import { once } from 'node:events'
import { type IncomingMessage, request } from 'node:http'
import { connect } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { TestClient } from '../helpers/client.js'
import { type Observed, startObserved } from '../helpers/observed.js'

interface Answer {
  status: number
  body: Record<string, unknown>
}

/** One HTTP request with exactly these headers (fetch will not send a foreign Host, a browser under DNS rebinding does). */
async function raw(url: string, method: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  const req = request(url, { method, headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers } })
  req.end(body)
  const [res] = (await once(req, 'response')) as [IncomingMessage]
  let text = ''
  for await (const chunk of res) text += String(chunk)
  return { status: res.statusCode ?? 0, body: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : { text } }
}

/** The upgrade's HTTP answer when it is refused, or its welcome frame when it is accepted. */
function upgrade(url: string, headers: Record<string, string>): Promise<{ status: number; body: string } | { welcome: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers })
    ws.once('unexpected-response', (_req, res) => {
      let body = ''
      res.on('data', (d: Buffer) => (body += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    ws.once('message', (data) => {
      resolve({ welcome: JSON.parse(String(data)) as Record<string, unknown> })
      ws.close()
    })
    ws.once('error', (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err)
    })
  })
}

const publishBody = JSON.stringify({ channel: 'workflow:w1', event: 'workflow.started', data: { workflow_id: 'w1' } })
const mcpBody = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' })
const mcpHeaders = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }

describe('one access policy for every route, the upgrade and MCP', () => {
  let s: Observed | undefined
  afterEach(async () => {
    await s?.server.close()
    s = undefined
  })

  /** Every protected route, called with `headers` added: [name, status, body]. */
  const everyRoute = async (o: Observed, headers: Record<string, string>) => {
    const c = new TestClient(o.url)
    const id = String((await c.next()).data!.connection_id)
    const answers: [string, Answer][] = [
      ['POST /publish', await raw(`${o.http}/publish`, 'POST', headers, publishBody)],
      ['POST /send', await raw(`${o.http}/send`, 'POST', headers, JSON.stringify({ connection_id: id, event: 'note', data: {} }))],
      ['GET /ws/info', await raw(`${o.http}/ws/info`, 'GET', headers)],
      ['GET /stats', await raw(`${o.http}/stats`, 'GET', headers)],
      ['GET /metrics', await raw(`${o.http}/metrics`, 'GET', headers)],
      ['POST /mcp', await raw(o.mcpUrl.href, 'POST', { ...mcpHeaders, ...headers }, mcpBody)],
    ]
    await c.close()
    return answers
  }

  it('without an api_key, a rebinding Host is refused on every route with 403 and a reason; a loopback Host is served', async () => {
    s = await startObserved('workflow')
    const subscriber = await TestClient.connect(s.url)
    await subscriber.subscribe('workflow:w1')
    for (const [route, answer] of await everyRoute(s, { host: `evil.example:${s.server.port}` })) {
      expect(answer, route).toEqual({ status: 403, body: { code: 'FORBIDDEN', error: expect.stringMatching(/^Host evil\.example:\d+ is not allowed without an api_key/) } })
    }
    await subscriber.alive()
    expect(subscriber.pending).toEqual([])
    expect(await raw(`${s.http}/health`, 'GET', { host: 'evil.example' })).toMatchObject({ status: 403, body: { code: 'FORBIDDEN' } })
    for (const host of ['localhost', `127.0.0.1:${s.server.port}`, '[::1]:1']) {
      for (const [route, answer] of await everyRoute(s, { host })) expect(answer.status, `${route} Host ${host}`).toBe(200)
    }
    // Health stays readable by a load balancer that names the service by IP address.
    expect((await raw(`${s.http}/health`, 'GET', { host: '10.1.2.3:8690' })).status).toBe(200)
    expect(s.server.stats.broadcasts).toBe(3)
    await subscriber.close()
  })

  it('with an api_key, the Bearer key is required on every protected route (401), whatever the Host; /health stays open', async () => {
    s = await startObserved('workflow', { api_key: 'k-0123456789' })
    for (const [route, answer] of await everyRoute(s, {})) {
      expect(answer, route).toEqual({ status: 401, body: { code: 'AUTH_FAILED', error: 'Missing or invalid API key (Authorization: Bearer <key>)' } })
    }
    for (const [route, answer] of await everyRoute(s, { host: 'service.example', authorization: 'Bearer k-0123456789' })) {
      expect(answer.status, route).toBe(200)
    }
    expect((await raw(`${s.http}/health`, 'GET', { host: 'service.example' })).status).toBe(200)
  })

  it('a browser request from a foreign Origin is refused on every route, even with the key', async () => {
    s = await startObserved('workflow', { api_key: 'k-0123456789' })
    const headers = { origin: 'https://evil.example', authorization: 'Bearer k-0123456789' }
    for (const [route, answer] of await everyRoute(s, headers)) {
      expect(answer, route).toEqual({ status: 403, body: { code: 'FORBIDDEN', error: 'Origin https://evil.example is not allowed (allowed_origins setting)' } })
    }
    expect((await raw(`${s.http}/health`, 'GET', { origin: 'null' })).status).toBe(403)
  })

  it('an upgrade from a foreign Origin gets 403 with a reason before the handshake; allowed, loopback and absent origins get the welcome', async () => {
    s = await startObserved('workflow', { allowed_origins: ['https://app.example.com'] })
    const refused = await upgrade(s.url, { origin: 'https://evil.example' })
    expect(refused).toEqual({ status: 403, body: JSON.stringify({ error: 'Origin https://evil.example is not allowed (allowed_origins setting)', code: 'FORBIDDEN' }) })
    // The same name the Host header carries is no proof: that is what DNS rebinding looks like.
    expect(await upgrade(`ws://127.0.0.1:${s.server.port}/ws`, { origin: 'http://evil.example:1', host: 'evil.example:1' })).toMatchObject({ status: 403 })
    expect(s.server.stats.connectionsTotal).toBe(0)
    for (const origin of ['https://app.example.com', 'http://127.0.0.1:3848', 'http://localhost:3848', `http://127.0.0.1:${s.server.port}`, undefined]) {
      const answer = await upgrade(s.url, origin === undefined ? {} : { origin })
      expect(answer, String(origin)).toMatchObject({ welcome: { event: 'session.created' } })
    }
  })

  it('an upgrade on a path that is not a WebSocket path gets 404 with a reason; a query string on / and /ws is fine', async () => {
    s = await startObserved('workflow')
    const port = s.server.port
    expect(await upgrade(`ws://127.0.0.1:${port}/health`, {})).toEqual({ status: 404, body: JSON.stringify({ error: 'No route GET /health', code: 'NOT_FOUND' }) })
    expect(await upgrade(`ws://127.0.0.1:${port}/wsx?a=1`, {})).toMatchObject({ status: 404 })
    // A DNS name in Host is refused on an unknown path as on every public route.
    expect(await upgrade(`ws://127.0.0.1:${port}/nope`, { host: 'evil.example' })).toMatchObject({ status: 403 })
    expect(s.server.stats.connectionsTotal).toBe(0)
    for (const path of ['/?agent=a', '/ws?x=1']) {
      expect(await upgrade(`ws://127.0.0.1:${port}${path}`, {}), path).toMatchObject({ welcome: { event: 'session.created' } })
    }
  })

  it('an upgrade with a broken handshake gets 400 from ws and no connection', async () => {
    s = await startObserved('workflow')
    const sock = connect(s.server.port, '127.0.0.1')
    sock.end('GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n')
    let text = ''
    for await (const chunk of sock) text += String(chunk)
    expect(text).toMatch(/^HTTP\/1\.1 400 /)
    expect(s.server.stats.connectionsTotal).toBe(0)
  })

  it('allowed_origins "*" lets any page connect', async () => {
    s = await startObserved('workflow', { allowed_origins: ['*'] })
    expect(await upgrade(s.url, { origin: 'https://anyone.example' })).toMatchObject({ welcome: { event: 'session.created' } })
  })

  it('X-Forwarded-Proto and X-Forwarded-For are ignored without trust_proxy', async () => {
    s = await startObserved('workflow')
    const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7' }
    expect(await upgrade(s.url, forwarded)).toMatchObject({ welcome: { data: { secure: false } } })
    expect((await raw(`${s.http}/publish`, 'POST', forwarded, publishBody)).status).toBe(200)
  })

  it('with trust_proxy, the welcome says secure over a forwarded https, and the forwarded client is the one checked and listed', async () => {
    s = await startObserved('workflow', { trust_proxy: true })
    expect(await upgrade(s.url, { 'x-forwarded-proto': 'https' })).toMatchObject({ welcome: { data: { secure: true } } })
    expect(await upgrade(s.url, { 'x-forwarded-proto': 'http' })).toMatchObject({ welcome: { data: { secure: false } } })
    // A client claiming to be local in front of the proxy's own entry is not believed: the last entry counts.
    const remote = await raw(`${s.http}/publish`, 'POST', { 'x-forwarded-for': '127.0.0.1, 203.0.113.7' }, publishBody)
    expect(remote).toEqual({ status: 403, body: { code: 'FORBIDDEN', error: 'Without an api_key setting this route is served to loopback callers only' } })
    const c = await TestClient.connect(s.url, { headers: { 'x-forwarded-for': '198.51.100.4' } })
    const info = await raw(`${s.http}/ws/info`, 'GET', {})
    expect(info.body.clients).toEqual([expect.objectContaining({ remote_address: '198.51.100.4' })])
    await c.close()
  })
})
