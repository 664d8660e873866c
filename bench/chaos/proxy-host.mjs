// The chaos run's fault proxies, each in its own process (bench/chaos/run.mjs): with 1,000
// clients the proxies forward every byte of about 2,000 sockets, and in the harness's own
// process they starved its clients, which then missed the server's pings (5 s to answer) and
// were cut by the hundreds with no fault at all. RemoteProxy has FaultProxy's API, asynchronous.
//   child: node bench/chaos/proxy-host.mjs <upstream port>   (forked; commands over IPC)
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { ChildRpc, serveRpc } from './child-rpc.mjs'
import { FaultProxy } from './proxy.mjs'
import { seeded } from './record.mjs'

export class RemoteProxy {
  constructor(upstream) {
    this.upstream = upstream
    this.rpc = null
    this.port = null
  }

  async listen() {
    this.rpc = new ChildRpc(fileURLToPath(import.meta.url), [String(this.upstream.port)], { name: 'proxy process' })
    this.port = await this.#call('listen')
    return this.port
  }

  #call(op, ...args) {
    if (this.rpc === null) return Promise.reject(new Error('proxy process is not running'))
    return this.rpc.call(op, ...args)
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
    if (this.rpc === null || !this.rpc.running) return
    await this.#call('close').catch(() => {})
    const exited = once(this.rpc.child, 'exit')
    this.rpc.child.disconnect()
    await exited
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.send !== undefined) {
  const proxy = new FaultProxy({ port: Number(process.argv[2]) })
  serveRpc({
    listen: () => proxy.listen(),
    cut: () => proxy.cut(),
    stall: (ms) => proxy.stall(ms),
    slow: (bytesPerSecond, ms) => proxy.slow(bytesPerSecond, ms),
    halfOpen: (dir, share, seed) => proxy.halfOpen(dir, share, seeded(seed)),
    close: () => proxy.close(),
  })
  // The harness gone (its IPC channel closed): nothing left to forward for.
  process.on('disconnect', () => {
    proxy.close().finally(() => process.exit(0))
  })
}
