import { once } from 'node:events'
import { createConnection, createServer, type Server, type Socket } from 'node:net'

/**
 * A TCP proxy in front of a real Redis whose pub/sub deliveries trail its command replies: what
 * Redis sends to a subscriber connection (one that sent SUBSCRIBE or PSUBSCRIBE) reaches the
 * client `lagMs` later, in order; everything else passes at once. That is a cluster whose
 * subscriber link is busier than its command link — the order between a command's reply and a
 * publication Redis handed out just before it is then not the order Redis ran them in.
 */
export class LaggingRedis {
  readonly #server: Server
  readonly #sockets = new Set<Socket>()
  readonly #timers = new Set<NodeJS.Timeout>()

  private constructor(server: Server) {
    this.#server = server
  }

  static async start(target: { port: number }, lagMs: number): Promise<LaggingRedis> {
    const server = createServer()
    const proxy = new LaggingRedis(server)
    server.on('connection', (client) => proxy.#pipe(client, target.port, lagMs))
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    return proxy
  }

  get url(): string {
    const address = this.#server.address()
    if (address === null || typeof address === 'string') throw new Error('proxy not listening')
    return `redis://127.0.0.1:${address.port}`
  }

  #pipe(client: Socket, port: number, lagMs: number): void {
    const redis = createConnection({ port, host: '127.0.0.1' })
    for (const s of [client, redis]) {
      this.#sockets.add(s)
      s.on('close', () => this.#sockets.delete(s))
      s.on('error', () => {})
    }
    let subscriber = false
    client.on('data', (chunk: Buffer) => {
      if (!subscriber && /subscribe/i.test(chunk.toString('latin1'))) subscriber = true
      redis.write(chunk)
    })
    redis.on('data', (chunk: Buffer) => {
      if (!subscriber) return void client.write(chunk)
      // Same lag for every chunk: they arrive in the order Redis sent them.
      const timer = setTimeout(() => {
        this.#timers.delete(timer)
        if (!client.destroyed) client.write(chunk)
      }, lagMs)
      this.#timers.add(timer)
    })
    client.on('close', () => redis.destroy())
    redis.on('close', () => client.destroy())
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t)
    for (const s of this.#sockets) s.destroy()
    this.#server.close()
    await once(this.#server, 'close')
  }
}
