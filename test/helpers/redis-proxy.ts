import { once } from 'node:events'
import { createConnection, createServer, type Server, type Socket } from 'node:net'

/**
 * A TCP proxy in front of a real Redis: each client connection gets its own connection to Redis,
 * and `pipe` decides what passes between the two and when. A socket's error only closes it; one
 * side closing closes the other; close() ends every connection and the listener.
 */
export class RedisProxy {
  readonly #server: Server
  readonly #sockets = new Set<Socket>()

  private constructor(server: Server) {
    this.#server = server
  }

  static async start(target: { port: number }, pipe: (client: Socket, redis: Socket) => void): Promise<RedisProxy> {
    const server = createServer()
    const proxy = new RedisProxy(server)
    server.on('connection', (client) => {
      const redis = createConnection({ port: target.port, host: '127.0.0.1' })
      for (const s of [client, redis]) {
        proxy.#sockets.add(s)
        s.on('close', () => proxy.#sockets.delete(s))
        s.on('error', () => {})
      }
      client.on('close', () => redis.destroy())
      redis.on('close', () => client.destroy())
      pipe(client, redis)
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    return proxy
  }

  get url(): string {
    const address = this.#server.address()
    if (address === null || typeof address === 'string') throw new Error('proxy not listening')
    return `redis://127.0.0.1:${address.port}`
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy()
    this.#server.close()
    await once(this.#server, 'close')
  }
}
