import { once } from 'node:events'
import { createConnection, createServer, type Server, type Socket } from 'node:net'

/**
 * A TCP proxy in front of a real Redis that, once armed, holds what a client sends from its next
 * (S|P)SUBSCRIBE on: the bytes of that connection stop at the proxy, in order, until `release()`.
 * Redis has then not run the subscribe, and what other instances publish meanwhile is not
 * handed to this one: an instance whose subscribe is slow to reach Redis, made deterministic.
 * Everything else (other connections, replies) passes at once.
 */
export class HoldingRedis {
  readonly #server: Server
  readonly #sockets = new Set<Socket>()
  #armed = false
  /** Chunks held per connection (its Redis side), in order; null while nothing is held. */
  #held: { redis: Socket; chunks: Buffer[] }[] | null = null
  #onHeld: (() => void) | null = null
  /** Resolves once a subscribe is held (after arm()). */
  held: Promise<void> = Promise.resolve()

  private constructor(server: Server) {
    this.#server = server
  }

  static async start(target: { port: number }): Promise<HoldingRedis> {
    const server = createServer()
    const proxy = new HoldingRedis(server)
    server.on('connection', (client) => proxy.#pipe(client, target.port))
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    return proxy
  }

  get url(): string {
    const address = this.#server.address()
    if (address === null || typeof address === 'string') throw new Error('proxy not listening')
    return `redis://127.0.0.1:${address.port}`
  }

  /** Holds the next subscribe (and what follows it on its connection) until release(); `held` resolves when one is. */
  arm(): void {
    this.#armed = true
    this.held = new Promise((resolve) => (this.#onHeld = resolve))
  }

  /** Sends what was held, in order, and lets everything through again. */
  release(): void {
    this.#armed = false
    const held = this.#held ?? []
    this.#held = null
    for (const { redis, chunks } of held) for (const chunk of chunks) redis.write(chunk)
  }

  #pipe(client: Socket, port: number): void {
    const redis = createConnection({ port, host: '127.0.0.1' })
    for (const s of [client, redis]) {
      this.#sockets.add(s)
      s.on('close', () => this.#sockets.delete(s))
      s.on('error', () => {})
    }
    client.on('data', (chunk: Buffer) => {
      const held = this.#held?.find((h) => h.redis === redis)
      if (held !== undefined) return void held.chunks.push(chunk)
      if (this.#armed && /subscribe/i.test(chunk.toString('latin1'))) {
        ;(this.#held ??= []).push({ redis, chunks: [chunk] })
        this.#onHeld?.()
        this.#onHeld = null
        return
      }
      redis.write(chunk)
    })
    redis.on('data', (chunk: Buffer) => client.write(chunk))
    client.on('close', () => redis.destroy())
    redis.on('close', () => client.destroy())
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy()
    this.#server.close()
    await once(this.#server, 'close')
  }
}
