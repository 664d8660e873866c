import { once } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { TestClient } from '../helpers/client.js'
import { publishUntilSlowClose, startService, type Started } from '../helpers/server.js'

describe('graceful shutdown (docs/protocol.md A.7; lifecycle: docs/architecture.md)', () => {
  let s: Started
  afterEach(async () => s?.server.close())

  it('closes every client with 1001 "Server shutting down", then refuses new connections', async () => {
    // A drain_timeout far beyond the test's own timeout: close() resolving at all means it did
    // not wait for the timer, only for the clients' close handshakes.
    s = await startService('workflow', { drain_timeout: 600 })
    const clients = await Promise.all([1, 2, 3].map(() => TestClient.connect(s.url)))
    await clients[0]!.subscribe('global')
    await s.server.close()
    for (const c of clients) expect(await c.closed).toEqual({ code: 1001, reason: 'Server shutting down' })
    expect(s.server.state).toBe('stopped')
    const late = new WebSocket(s.url)
    const [err] = (await once(late, 'error')) as [NodeJS.ErrnoException]
    expect(err.code).toBe('ECONNREFUSED')
  })

  it('the drain is bounded: a client that never answers the close is terminated after drain_timeout', async () => {
    s = await startService('workflow', { drain_timeout: 0.3 })
    const deaf = await TestClient.connect(s.url)
    deaf.ws.pause()
    const started = Date.now()
    await s.server.close()
    // Load can only delay the end, so the lower bound is safe; the upper one is a safety net (≥ 10×).
    const took = Date.now() - started
    expect(took).toBeGreaterThanOrEqual(250)
    expect(took).toBeLessThan(10_000)
    expect(s.server.state).toBe('stopped')
    deaf.ws.resume()
    expect([1001, 1006]).toContain((await deaf.closed).code)
  })

  it('does not wait for a slow consumer that was already cut', async () => {
    // drain_timeout beyond the test's timeout: close() resolving means nobody was waited for.
    s = await startService('workflow', { drain_timeout: 600, max_buffered_bytes: 16 * 1024 })
    const fast = await TestClient.connect(s.url)
    const slow = await TestClient.connect(s.url)
    await fast.subscribe('global')
    await slow.subscribe('global')
    slow.ws.pause()
    await publishUntilSlowClose(s.server, 'global', 16 * 1024, () => fast.next())
    expect(s.server.stats.slowConsumerCloses).toBe(1)
    await s.server.close()
    expect(await fast.closed).toEqual({ code: 1001, reason: 'Server shutting down' })
  })

  it('while draining, nothing new is accepted: an upgrade and /health get 503 from the closing server', async () => {
    s = await startService('workflow', { drain_timeout: 5 })
    const deaf = await TestClient.connect(s.url)
    const polite = await TestClient.connect(s.url)
    deaf.ws.pause()
    const closing = s.server.close()
    expect(await polite.closed).toEqual({ code: 1001, reason: 'Server shutting down' })
    expect(s.server.state).toBe('draining')
    const late = new WebSocket(s.url)
    late.on('error', () => {})
    const [, res] = (await once(late, 'unexpected-response')) as [unknown, { statusCode: number }]
    expect(res.statusCode).toBe(503)
    expect((await fetch(`${s.http}/health`)).status).toBe(503)
    deaf.ws.terminate()
    await closing
  })

  it('close() is idempotent and safe before listen', async () => {
    s = await startService('session')
    await Promise.all([s.server.close(), s.server.close()])
    expect(s.server.state).toBe('stopped')
  })
})
