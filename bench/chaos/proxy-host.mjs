// The chaos run's fault proxies, each in its own process (bench/chaos/run.mjs): with 1,000
// clients the proxies forward every byte of about 2,000 sockets, and in the harness's own
// process they starved its clients, which then missed the server's pings (5 s to answer) and
// were cut by the hundreds with no fault at all. RemoteProxy has FaultProxy's API, asynchronous.
//   child: node bench/chaos/proxy-host.mjs <upstream port>   (forked; commands over IPC)
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { FaultProxy } from './proxy.mjs'
import { seeded } from './record.mjs'

export class RemoteProxy {
  constructor(upstream) {
    this.upstream = upstream
    this.child = null
    this.seq = 0
    this.waiting = new Map()
    this.port = null
  }

  async listen() {
    this.child = fork(fileURLToPath(import.meta.url), [String(this.upstream.port)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.child.on('message', (m) => {
      const w = this.waiting.get(m.id)
      if (w === undefined) return
      this.waiting.delete(m.id)
      if (m.error !== undefined) w.reject(new Error(m.error))
      else w.resolve(m.result)
    })
    this.child.on('exit', (code, signal) => {
      for (const w of this.waiting.values()) w.reject(new Error(`proxy process exited (${code ?? signal})`))
      this.waiting.clear()
    })
    this.port = await this.#call('listen')
    return this.port
  }

  #call(op, ...args) {
    const id = this.seq++
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject })
      this.child.send({ id, op, args })
    })
  }

  cut() {
    return this.#call('cut')
  }

  stall(ms) {
    return this.#call('stall', ms)
  }

  slow(bytesPerSecond, ms) {
    return this.#call('slow', bytesPerSecond, ms)
  }

  /** `seed`: the child draws which connections go half-open from seeded(seed). */
  halfOpen(dir, share, seed) {
    return this.#call('halfOpen', dir, share, seed)
  }

  async close() {
    if (this.child === null || this.child.exitCode !== null) return
    await this.#call('close').catch(() => {})
    const exited = once(this.child, 'exit')
    this.child.disconnect()
    await exited
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.send !== undefined) {
  const proxy = new FaultProxy({ port: Number(process.argv[2]) })
  process.on('message', async ({ id, op, args }) => {
    try {
      let result
      if (op === 'listen') result = await proxy.listen()
      else if (op === 'cut') result = proxy.cut()
      else if (op === 'stall') result = await proxy.stall(args[0])
      else if (op === 'slow') result = await proxy.slow(args[0], args[1])
      else if (op === 'halfOpen') result = proxy.halfOpen(args[0], args[1], seeded(args[2]))
      else if (op === 'close') result = await proxy.close()
      else throw new Error(`unknown op ${op}`)
      process.send({ id, result: result ?? null })
    } catch (e) {
      process.send({ id, error: String(e?.stack ?? e) })
    }
  })
  // The harness gone (its IPC channel closed): nothing left to forward for.
  process.on('disconnect', () => {
    proxy.close().finally(() => process.exit(0))
  })
}
