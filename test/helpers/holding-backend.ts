import type { Socket } from 'node:net'
import { Redis } from 'ioredis'
import type { RedisBackend } from './redis-backends.js'
import { RedisProxy } from './redis-proxy.js'

/**
 * TCP proxies in front of a test backend (one redis-server, or every node of a Redis Cluster)
 * for one instance: `settings(prefix)` points it at them. Once armed with a pattern, the
 * connection whose next command bytes match it stops at the proxy, in order, until `release()`:
 * Redis has not run that command, while other connections (other instances, which go straight
 * to Redis) are served. An instance whose write reaches Redis late (a busy host, a node
 * connection still being opened), made deterministic.
 *
 * On a cluster each node gets a proxy, and the node ports in the `CLUSTER SLOTS` replies are
 * rewritten to the proxies' (RESP integers, so no length changes): the instance's cluster client
 * keeps going through them after discovering the nodes.
 */
export class HoldingBackend {
  readonly #proxies = new Map<number, RedisProxy>()
  /** Real node port → its proxy's port (a cluster only). */
  readonly #toProxy = new Map<number, number>()
  readonly #backend: RedisBackend
  #pattern: RegExp | null = null
  #held: { redis: Socket; chunks: Buffer[] } | null = null
  #onHeld: (() => void) | null = null
  /** Resolves once a chunk matching the armed pattern is held. */
  held: Promise<void> = Promise.resolve()

  private constructor(backend: RedisBackend) {
    this.#backend = backend
  }

  static async start(backend: RedisBackend): Promise<HoldingBackend> {
    const h = new HoldingBackend(backend)
    const s = backend.settings('probe:')
    const ports = 'url' in s ? [Number(new URL(s.url).port)] : await clusterPorts(s.cluster[0]!)
    for (const port of ports) {
      const proxy = await RedisProxy.start({ port }, (client, redis) => h.#pipe(client, redis))
      h.#proxies.set(port, proxy)
      if (!('url' in s)) h.#toProxy.set(port, Number(new URL(proxy.url).port))
    }
    return h
  }

  /** The `redis` settings block of an instance that goes through the proxies. */
  settings(prefix: string): { url: string; prefix: string } | { cluster: string[]; prefix: string } {
    const s = this.#backend.settings(prefix)
    if ('url' in s) return { url: this.#proxies.values().next().value!.url, prefix }
    return { cluster: s.cluster.map((a) => `127.0.0.1:${this.#toProxy.get(Number(a.split(':')[1]))}`), prefix }
  }

  /** Holds the next command bytes matching `pattern` (and what follows on their connection) until release(). */
  arm(pattern: RegExp): void {
    this.#pattern = pattern
    this.held = new Promise((resolve) => (this.#onHeld = resolve))
  }

  /** Sends what was held, in order, and lets everything through again. */
  release(): void {
    this.#pattern = null
    const held = this.#held
    this.#held = null
    for (const chunk of held?.chunks ?? []) held!.redis.write(chunk)
  }

  #pipe(client: Socket, redis: Socket): void {
    let slots = false
    client.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1')
      if (/slots/i.test(text)) slots = true
      if (this.#held?.redis === redis) return void this.#held.chunks.push(chunk)
      if (this.#held === null && this.#pattern?.test(text) === true) {
        this.#held = { redis, chunks: [chunk] }
        this.#onHeld?.()
        this.#onHeld = null
        return
      }
      redis.write(chunk)
    })
    redis.on('data', (chunk: Buffer) => {
      if (!slots || this.#toProxy.size === 0) return void client.write(chunk)
      // A node's port in a CLUSTER SLOTS reply is a RESP integer (`:7001\r\n`): the proxy's instead.
      const text = chunk.toString('latin1').replace(/:(\d+)\r\n/g, (all, port: string) => {
        const proxied = this.#toProxy.get(Number(port))
        return proxied === undefined ? all : `:${proxied}\r\n`
      })
      client.write(Buffer.from(text, 'latin1'))
    })
  }

  async close(): Promise<void> {
    this.release()
    await Promise.all([...this.#proxies.values()].map((p) => p.close()))
  }
}

/** Every node's port, from `CLUSTER NODES` of one of them (`host:port@bus …`). */
async function clusterPorts(address: string): Promise<number[]> {
  const [host, port] = address.split(':')
  const r = new Redis({ host, port: Number(port), lazyConnect: true })
  try {
    await r.connect()
    const nodes = (await r.call('CLUSTER', 'NODES')) as string
    return nodes
      .trim()
      .split('\n')
      .map((line) => Number(/:(\d+)@/.exec(line)![1]))
  } finally {
    r.disconnect()
  }
}
