import { once } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import { TestClient } from '../helpers/client.js'
import { publishUntilSlowClose, startService, type Started } from '../helpers/server.js'

describe('limits and close codes (docs/protocol.md A.7)', () => {
  let s: Started
  afterEach(async () => s?.server.close())

  it('max_connections: the next client completes the handshake, then gets 1013 "Server at maximum capacity"', async () => {
    s = await startService('workflow', { max_connections: 2 })
    const a = await TestClient.connect(s.url)
    const b = await TestClient.connect(s.url)
    const c = new TestClient(s.url)
    await once(c.ws, 'open')
    expect(await c.closed).toEqual({ code: 1013, reason: 'Server at maximum capacity' })
    expect(c.raw).toEqual([])
    expect(s.server.statsSnapshot().connections).toMatchObject({ current: 2, rejected_at_capacity: 1 })
    const gone = new Promise<void>((resolve) => s.server.onDisconnect(() => resolve()))
    await a.close()
    await gone
    const d = await TestClient.connect(s.url)
    await d.alive()
    await Promise.all([b.close(), d.close()])
  })

  it('a frame over 1 MiB closes the connection with 1009; a frame of exactly 1 MiB is answered', async () => {
    s = await startService('workflow')
    const c = await TestClient.connect(s.url)
    const head = '{"type":"ping","correlation_id":"big","pad":"'
    const exact = head + 'x'.repeat(1024 * 1024 - head.length - 2) + '"}'
    expect(Buffer.byteLength(exact)).toBe(1024 * 1024)
    c.send(exact)
    expect(await c.next()).toMatchObject({ type: 'pong', correlation_id: 'big' })
    c.send(exact.replace('"pad":"', '"pad":"y'))
    expect((await c.closed).code).toBe(1009)
  })

  it('rate limit: a burst of 1.5× the rate passes, the rest is dropped with RATE_LIMIT_EXCEEDED and a retry time; the connection stays open', async () => {
    // 4/s: a token every 250 ms, so a slow test machine does not earn an extra one during the burst.
    s = await startService('workflow', { message_rate_limit: 4 })
    const c = await TestClient.connect(s.url)
    for (let i = 0; i < 10; i++) c.send({ type: 'ping', correlation_id: `p${i}` })
    const frames = []
    for (let i = 0; i < 10; i++) frames.push(await c.next())
    const pongs = frames.filter((f) => f.type === 'pong')
    const errors = frames.filter((f) => f.type === 'error')
    expect(pongs.map((f) => f.correlation_id)).toEqual(Array.from({ length: 6 }, (_, i) => `p${i}`))
    expect(errors).toHaveLength(4)
    for (const e of errors) {
      expect(e.error_code).toBe('RATE_LIMIT_EXCEEDED')
      expect(e.error_message).toMatch(/^Message rate limit exceeded\. Retry after 0\.\d{3} seconds\.$/)
    }
    expect(s.server.statsSnapshot().rate_limited).toBe(4)
    // Waiting the announced time is the behaviour under test, not a race.
    const retry = Number(/Retry after ([\d.]+)/.exec(String(errors.at(-1)!.error_message))![1])
    await new Promise((r) => setTimeout(r, retry * 1000 + 20))
    await c.alive()
  })

  it('a rate below one frame per burst (0.5/s) still allows the first frame, then says when to retry', async () => {
    s = await startService('workflow', { message_rate_limit: 0.5 })
    const c = await TestClient.connect(s.url)
    c.send({ type: 'ping', correlation_id: 'first' })
    c.send({ type: 'ping', correlation_id: 'second' })
    expect(await c.next()).toMatchObject({ type: 'pong', correlation_id: 'first' })
    const err = await c.next()
    expect(err.error_code).toBe('RATE_LIMIT_EXCEEDED')
    expect(Number(/Retry after ([\d.]+)/.exec(String(err.error_message))![1])).toBeGreaterThan(1.9)
    await c.close()
  })

  it('a subscriber that stops reading is cut as a slow consumer (4008 counted, the client sees 1006); a fast subscriber of the same channel gets every event', async () => {
    s = await startService('workflow', { max_buffered_bytes: 64 * 1024 })
    const fast = await TestClient.connect(s.url)
    const slow = await TestClient.connect(s.url)
    await fast.subscribe('workflow:w')
    await slow.subscribe('workflow:w')
    slow.ws.pause()
    const left = new Promise<void>((resolve) => s.server.onDisconnect(() => resolve()))
    // 2,000 × 32 KiB is far beyond what kernel buffers absorb.
    await publishUntilSlowClose(s.server, 'workflow:w', 32 * 1024, async (i) => expect((await fast.next()).data?.workflow_id).toBe(`w${i}`))
    expect(s.server.stats.slowConsumerCloses > 0).toBe(true)
    expect(s.server.statsSnapshot().slow_consumer_closes).toBe(1)
    slow.ws.resume()
    // No close frame can overtake the backlog: the connection is cut (test/integration/slow-consumer.test.ts).
    expect(await slow.closed).toEqual({ code: 1006, reason: '' })
    await left
    expect(s.server.connectionCount).toBe(1)
    await fast.alive()
    await fast.close()
  })

  it('a backlog over max_buffered_bytes (under twice it) that is still there a second later → cut as a slow consumer', async () => {
    s = await startService('workflow', { max_buffered_bytes: 64 * 1024 })
    const fast = await TestClient.connect(s.url)
    const slow = await TestClient.connect(s.url)
    await fast.subscribe('workflow:w')
    await slow.subscribe('workflow:w')
    slow.ws.pause()
    const backlog = () => Math.max(...[...s.server.connections()].map((c) => c.socket.bufferedAmount))
    const blob = 'x'.repeat(8 * 1024)
    let i = 0
    const send = async () => {
      s.server.publish('workflow:w', 'workflow.started', { workflow_id: `w${i++}`, blob })
      await fast.next()
    }
    while (backlog() <= 72 * 1024 && i < 5000) await send()
    expect(backlog()).toBeLessThan(128 * 1024)
    await send()
    expect(s.server.stats.slowConsumerCloses, 'over the limit for less than a second: tolerated').toBe(0)
    // The grace period is the behaviour under test: wait it out, then one more event.
    await new Promise((r) => setTimeout(r, 1050))
    await send()
    expect(s.server.stats.slowConsumerCloses).toBe(1)
    slow.ws.resume()
    expect((await slow.closed).code).toBe(1006)
    await fast.close()
  })

  it('a burst of 2.4 MB published in one event-loop turn reaches a subscriber that keeps up, whole, without 4008', async () => {
    s = await startService('workflow')
    const c = await TestClient.connect(s.url)
    await c.subscribe('workflow:w')
    const blob = 'x'.repeat(8 * 1024)
    for (let i = 0; i < 300; i++) s.server.publish('workflow:w', 'workflow.started', { workflow_id: `w${i}`, blob })
    expect(s.server.stats.slowConsumerCloses).toBe(0)
    for (let i = 0; i < 300; i++) expect((await c.next()).data?.workflow_id).toBe(`w${i}`)
    await c.alive()
    await c.close()
  })

  it('an idle subscriber receiving one event larger than max_buffered_bytes is not a slow consumer', async () => {
    s = await startService('workflow')
    const c = await TestClient.connect(s.url)
    await c.subscribe('workflow:w')
    const blob = 'x'.repeat(1024 * 1024 + 100)
    s.server.publish('workflow:w', 'workflow.started', { workflow_id: 'big', blob })
    expect((await c.next()).data?.workflow_id).toBe('big')
    s.server.publish('workflow:w', 'workflow.started', { workflow_id: 'big2', blob })
    expect((await c.next()).data?.workflow_id).toBe('big2')
    await c.alive()
    expect(s.server.statsSnapshot().slow_consumer_closes).toBe(0)
    await c.close()
  })

  it('heartbeat: a client that answers pings stays; one that does not is terminated and cleaned up', async () => {
    s = await startService('workflow', { ping_interval: 0.1, ping_timeout: 0.2 })
    const good = await TestClient.connect(s.url)
    const mute = await TestClient.connect(s.url, { autoPong: false })
    await mute.subscribe('global')
    const left = new Promise<void>((resolve) => s.server.onDisconnect(() => resolve()))
    let pings = 0
    await new Promise<void>((resolve) => good.ws.on('ping', () => ++pings === 3 && resolve()))
    const closed = await mute.closed
    expect(closed.code).toBe(1006)
    await left
    expect(s.server.statsSnapshot().heartbeat_timeouts).toBe(1)
    expect(s.server.roomCounts()).toEqual({})
    expect(good.ws.readyState).toBe(good.ws.OPEN)
    await good.alive()
    await good.close()
  })
})
