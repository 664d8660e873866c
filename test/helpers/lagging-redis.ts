import type { Socket } from 'node:net'
import { RedisProxy } from './redis-proxy.js'

/**
 * A TCP proxy in front of a real Redis whose pub/sub deliveries trail its command replies: what
 * Redis sends to a subscriber connection (one that sent SUBSCRIBE or PSUBSCRIBE) reaches the
 * client `lagMs` later, in order; everything else passes at once. That is a cluster whose
 * subscriber link is busier than its command link — the order between a command's reply and a
 * publication Redis handed out just before it is then not the order Redis ran them in.
 */
export class LaggingRedis {
  #proxy: RedisProxy | null = null
  readonly #timers = new Set<NodeJS.Timeout>()

  static async start(target: { port: number }, lagMs: number): Promise<LaggingRedis> {
    const lagging = new LaggingRedis()
    lagging.#proxy = await RedisProxy.start(target, (client, redis) => lagging.#pipe(client, redis, lagMs))
    return lagging
  }

  get url(): string {
    return this.#proxy!.url
  }

  #pipe(client: Socket, redis: Socket, lagMs: number): void {
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
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t)
    await this.#proxy!.close()
  }
}
