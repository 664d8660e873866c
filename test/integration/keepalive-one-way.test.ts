import { once } from 'node:events'
import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { TestClient } from '../helpers/client.js'
import { startService, type Started } from '../helpers/server.js'

/**
 * A TCP proxy that forwards client→server bytes always, and server→client bytes only up to the
 * end of the HTTP handshake (the 101's blank line): after it, everything the server sends is
 * read and dropped. The server→client direction is dead while the client→server one works, as
 * behind a proxy that forwards one way only, or a client whose receive side is gone.
 */
async function oneWayProxy(target: number): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>()
  const proxy = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1')
    sockets.add(client).add(upstream)
    let handshake = Buffer.alloc(0)
    let open = false
    upstream.on('data', (chunk: Buffer) => {
      if (open) return
      handshake = Buffer.concat([handshake, chunk])
      const end = handshake.indexOf('\r\n\r\n')
      if (end === -1) return
      open = true
      client.write(handshake.subarray(0, end + 4))
    })
    client.pipe(upstream)
    const down = (): void => {
      client.destroy()
      upstream.destroy()
    }
    client.on('close', down).on('error', down)
    upstream.on('close', down).on('error', down)
  })
  proxy.listen(0, '127.0.0.1')
  await once(proxy, 'listening')
  return {
    port: (proxy.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => proxy.close(() => resolve()))
    },
  }
}

/** Sends `{"type":"ping"}` every `everyMs` until the socket closes: a client that keeps talking. */
function keepSending(c: TestClient, everyMs: number): () => void {
  let n = 0
  const timer = setInterval(() => {
    if (c.ws.readyState === c.ws.OPEN) c.send({ type: 'ping', id: `k${n++}` })
  }, everyMs)
  c.ws.on('close', () => clearInterval(timer))
  return () => clearInterval(timer)
}

async function stats(s: Started): Promise<{ connections: { current: number }; heartbeat_timeouts: number; channels: Record<string, unknown> }> {
  const res = await fetch(`${s.http}/stats`)
  return (await res.json()) as { connections: { current: number }; heartbeat_timeouts: number; channels: Record<string, unknown> }
}

describe('keepalive on its own schedule (docs/protocol.md A.7): inbound traffic is not proof the server can reach the client', () => {
  let s: Started
  let proxy: { port: number; close: () => Promise<void> } | undefined
  afterEach(async () => {
    await proxy?.close()
    proxy = undefined
    await s?.server.close()
  })

  it('a client that keeps sending is still pinged every ping_interval, answers, and stays', async () => {
    s = await startService('workflow', { ping_interval: 0.1, ping_timeout: 0.5 })
    const c = await TestClient.connect(s.url)
    const stop = keepSending(c, 20)
    let pings = 0
    await new Promise<void>((resolve) => c.ws.on('ping', () => ++pings === 3 && resolve()))
    stop()
    expect(c.ws.readyState).toBe(c.ws.OPEN)
    await c.alive()
    expect(s.server.statsSnapshot().heartbeat_timeouts).toBe(0)
    await c.close()
  })

  it('the server→client direction dead after the handshake, the client sending all along: the server drops it after ping_interval + ping_timeout and /stats counts it gone', async () => {
    const interval = 0.2
    const timeout = 0.3
    s = await startService('workflow', { ping_interval: interval, ping_timeout: timeout })
    proxy = await oneWayProxy(s.port)
    const c = await TestClient.connect(`ws://127.0.0.1:${proxy.port}/ws`, { welcome: false })
    // The subscribe reaches the server (its answer is dropped by the proxy).
    c.send({ type: 'request', event: 'subscribe', data: { channel: 'workflow:w1' }, correlation_id: 's1' })
    const gone = new Promise<void>((resolve) => s.server.onDisconnect(() => resolve()))
    const started = Date.now()
    keepSending(c, 20)
    await gone
    const took = Date.now() - started
    // Measured 0.5–0.7 s on a loaded host; the test's own timeout (the safety bound) is far above.
    expect(took).toBeGreaterThanOrEqual((interval + timeout) * 1000 - 50)
    const after = await stats(s)
    expect(after.connections.current).toBe(0)
    expect(after.heartbeat_timeouts).toBe(1)
    expect(after.channels).toEqual({})
    // The proxy passes the server's cut on to the client: the client learns it too.
    expect((await c.closed).code).toBe(1006)
  }, 20_000)

  it('flat dialect: the same dead direction, the client answering nothing but sending pongs all along: closed 4000 after flat.heartbeat_timeout and counted gone', async () => {
    const timeout = 0.4
    s = await startService('context', { flat: { ping_interval: 0.1, heartbeat_timeout: timeout } })
    proxy = await oneWayProxy(s.port)
    const c = new TestClient(`ws://127.0.0.1:${proxy.port}/ws?agent_id=a1`)
    await once(c.ws, 'open')
    const gone = new Promise<void>((resolve) => s.server.onDisconnect(() => resolve()))
    const started = Date.now()
    // A flat client that "answers" every ping it would have seen: a pong every 20 ms.
    const timer = setInterval(() => c.ws.readyState === c.ws.OPEN && c.send({ type: 'pong' }), 20)
    c.ws.on('close', () => clearInterval(timer))
    await gone
    expect(Date.now() - started).toBeGreaterThanOrEqual(timeout * 1000 - 50)
    const after = await stats(s)
    expect(after.connections.current).toBe(0)
    expect(after.heartbeat_timeouts).toBe(1)
    expect(after.channels).toEqual({})
    expect((await c.closed).code).toBe(1006)
  }, 20_000)
})
