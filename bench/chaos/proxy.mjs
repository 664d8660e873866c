// A fault-injecting TCP proxy for the chaos run (bench/chaos/run.mjs): clients connect to it, it
// forwards every byte to one upstream address, and on demand it breaks the connections it holds
// the way networks do (the kernel here has no netem):
//   cut        every connection reset at once (RST on both sides)
//   stall      nothing forwarded either way for a while (reads paused: TCP backpressure), then
//              everything flows again, nothing lost
//   slow       each direction throttled to a byte rate for a while
//   half-open  one direction swallowed for good on the connections open now; the sockets stay
//              open until an end gives up on them (a ping timeout, a client's liveness check)
// New connections during a stall or slow period get the same treatment.
//   node bench/chaos/proxy.mjs --self-check      checks each fault against a local echo server
import { createServer, connect } from 'node:net'
import { once } from 'node:events'

export class FaultProxy {
  /** @param {{host?: string, port: number}} upstream */
  constructor(upstream) {
    this.upstream = { host: upstream.host ?? '127.0.0.1', port: upstream.port }
    /** @type {Set<{client: import('node:net').Socket, server: import('node:net').Socket, swallow: {up: boolean, down: boolean}}>} */
    this.pairs = new Set()
    this.stalled = false
    this.rate = 0 // bytes per second per direction; 0 = no throttle
    this.accepted = 0
    this.server = createServer((client) => this.#accept(client))
  }

  async listen(port = 0) {
    this.server.listen(port, '127.0.0.1')
    await once(this.server, 'listening')
    this.port = this.server.address().port
    return this.port
  }

  #accept(client) {
    this.accepted++
    const server = connect(this.upstream.port, this.upstream.host)
    const pair = { client, server, swallow: { up: false, down: false } }
    this.pairs.add(pair)
    client.setNoDelay(true)
    server.setNoDelay(true)
    this.#forward(pair, client, server, 'up')
    this.#forward(pair, server, client, 'down')
    const end = () => {
      if (!this.pairs.delete(pair)) return
      client.destroy()
      server.destroy()
    }
    client.on('close', end)
    server.on('close', end)
    client.on('error', end)
    server.on('error', end)
    if (this.stalled) {
      client.pause()
      server.pause()
    }
  }

  #forward(pair, from, to, dir) {
    from.on('data', (chunk) => {
      if (pair.swallow[dir]) return
      if (this.rate > 0) {
        // Throttle: hold this chunk for as long as it takes at the rate, reading nothing meanwhile.
        from.pause()
        setTimeout(() => {
          if (!pair.swallow[dir]) to.write(chunk)
          if (!this.stalled) from.resume()
        }, Math.ceil((chunk.length / this.rate) * 1000)).unref()
        return
      }
      if (!to.write(chunk)) {
        from.pause()
        to.once('drain', () => !this.stalled && from.resume())
      }
    })
  }

  /** Resets every connection held now. Returns how many. */
  cut() {
    const n = this.pairs.size
    for (const p of [...this.pairs]) {
      p.client.resetAndDestroy()
      p.server.resetAndDestroy()
      this.pairs.delete(p)
    }
    return n
  }

  /** Forwards nothing for `ms`, then resumes; resolves when resumed. */
  async stall(ms) {
    this.stalled = true
    for (const p of this.pairs) {
      p.client.pause()
      p.server.pause()
    }
    await new Promise((r) => setTimeout(r, ms))
    this.stalled = false
    for (const p of this.pairs) {
      p.client.resume()
      p.server.resume()
    }
  }

  /** Throttles both directions to `bytesPerSecond` for `ms`. */
  async slow(bytesPerSecond, ms) {
    this.rate = bytesPerSecond
    await new Promise((r) => setTimeout(r, ms))
    this.rate = 0
    for (const p of this.pairs) {
      p.client.resume()
      p.server.resume()
    }
  }

  /**
   * Swallows one direction (`down`: server → client, `up`: client → server) on a share of the
   * connections open now. Returns how many.
   */
  halfOpen(dir, share = 1, random = Math.random) {
    let n = 0
    for (const p of this.pairs) {
      if (random() < share) {
        p.swallow[dir] = true
        n++
      }
    }
    return n
  }

  async close() {
    this.cut()
    await new Promise((r) => this.server.close(r))
  }
}

/** Each fault against an echo server: bytes flow, a cut resets, a stall holds then delivers, half-open swallows. */
async function selfCheck() {
  const echo = createServer((s) => s.on('error', () => {}).pipe(s))
  echo.listen(0, '127.0.0.1')
  await once(echo, 'listening')
  const proxy = new FaultProxy({ port: echo.address().port })
  await proxy.listen()
  const open = async () => {
    const s = connect(proxy.port, '127.0.0.1')
    await once(s, 'connect')
    return s
  }
  const roundTrip = (s, text, timeoutMs) =>
    new Promise((resolve) => {
      let got = ''
      const t = setTimeout(() => resolve(got), timeoutMs)
      s.on('data', function on(d) {
        got += d
        if (got.length >= text.length) {
          clearTimeout(t)
          s.off('data', on)
          resolve(got)
        }
      })
      s.write(text)
    })
  const check = (ok, what) => {
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`)
    if (!ok) process.exitCode = 1
  }
  let s = await open()
  check((await roundTrip(s, 'hello', 2000)) === 'hello', 'forwards both ways')
  s.on('error', () => {})
  const closed = new Promise((r) => s.once('close', r))
  check(proxy.cut() === 1, 'cut counts the connection')
  await closed
  check(true, 'cut closes the client socket')
  s = await open()
  const stall = proxy.stall(300)
  const during = roundTrip(s, 'stalled', 5000)
  const t0 = Date.now()
  check((await during) === 'stalled' && Date.now() - t0 >= 250, 'stall holds the bytes, then delivers them all')
  await stall
  const slow = proxy.slow(1000, 1500)
  const t1 = Date.now()
  check((await roundTrip(s, 'x'.repeat(1000), 10000)).length === 1000 && Date.now() - t1 >= 500, 'slow throttles, nothing lost')
  await slow
  check(proxy.halfOpen('down') === 1, 'half-open marks the connection')
  check((await roundTrip(s, 'gone', 300)) === '', 'half-open swallows server → client')
  check(!s.destroyed && proxy.pairs.size === 1, 'half-open keeps the socket open')
  s.destroy()
  await proxy.close()
  echo.close()
}

if (process.argv.includes('--self-check')) await selfCheck()
