import { connect } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { TestClient } from '../helpers/client.js'
import { type Observed, startObserved } from '../helpers/observed.js'

let s: Observed | undefined
const clients: TestClient[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await s?.server.close()
  s = undefined
})

/** A client whose proxy (trust_proxy) says it comes from `address`, with its welcome read. */
async function from(address: string): Promise<TestClient> {
  const c = await TestClient.connect(s!.url, { headers: { 'x-forwarded-for': address } })
  clients.push(c)
  return c
}

/** An upgrade the server answers with an HTTP status instead of a handshake: status and body. */
function refused(url: string, headers: Record<string, string>): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers })
    ws.once('unexpected-response', (_req, res) => {
      let body = ''
      res.on('data', (d: Buffer) => (body += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) }))
    })
    ws.once('open', () => reject(new Error('the upgrade was accepted')))
    ws.once('error', (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err)
    })
  })
}

async function stats(o: Observed): Promise<Record<string, unknown>> {
  return (await (await fetch(`${o.http}/stats`)).json()) as Record<string, unknown>
}

describe('max_connections_per_ip: connections from one client address', () => {
  it('the third connection from one forwarded address gets 429 before the handshake; another address is admitted; closing one frees a slot', async () => {
    s = await startObserved('workflow', { max_connections_per_ip: 2, trust_proxy: true })
    const a = await from('198.51.100.1')
    await from('198.51.100.1')
    // The proxy appends the real peer last; what the client claimed before it does not count.
    const third = await refused(s.url, { 'x-forwarded-for': '203.0.113.99, 198.51.100.1' })
    expect(third).toEqual({ status: 429, body: { error: 'Too many connections from 198.51.100.1 (max_connections_per_ip 2)', code: 'TOO_MANY_CONNECTIONS' } })
    expect(s.server.stats.connectionsTotal).toBe(2)
    await (await from('198.51.100.2')).alive()
    expect((await stats(s)).connections).toMatchObject({ current: 3, total: 3, rejected_per_ip: 1 })
    expect(await (await fetch(`${s.http}/metrics`)).text()).toMatch(/^roomcast_connections_rejected_per_ip_total{service="workflow"} 1$/m)

    const gone = new Promise<void>((resolve) => s!.server.onDisconnect(() => resolve()))
    await a.close()
    await gone
    await (await from('198.51.100.1')).alive()
    expect(await refused(s.url, { 'x-forwarded-for': '198.51.100.1' })).toMatchObject({ status: 429 })
    expect((await stats(s)).connections).toMatchObject({ current: 3, total: 4, rejected_per_ip: 2 })
  })

  it('without trust_proxy the TCP peer counts, whatever X-Forwarded-For claims', async () => {
    s = await startObserved('workflow', { max_connections_per_ip: 1 })
    await from('198.51.100.1')
    expect(await refused(s.url, { 'x-forwarded-for': '198.51.100.2' })).toMatchObject({ status: 429, body: { code: 'TOO_MANY_CONNECTIONS' } })
  })

  it('a handshake ws refuses (a bad Sec-WebSocket-Key) holds no slot', async () => {
    s = await startObserved('workflow', { max_connections_per_ip: 1 })
    const sock = connect(s.server.port, '127.0.0.1')
    sock.end('GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n')
    let text = ''
    for await (const chunk of sock) text += String(chunk)
    expect(text).toMatch(/^HTTP\/1\.1 400 /)
    await (await from('198.51.100.1')).alive()
  })
})
