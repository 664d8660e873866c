import type { Socket } from 'node:net'
import { RedisProxy } from './redis-proxy.js'

/**
 * A TCP proxy in front of a real Redis that, once armed, holds what a client sends from its next
 * (S|P)SUBSCRIBE on: the bytes of that connection stop at the proxy, in order, until `release()`.
 * Redis has then not run the subscribe, and what other instances publish meanwhile is not
 * handed to this one: an instance whose subscribe is slow to reach Redis, made deterministic.
 * Everything else (other connections, replies) passes at once.
 */
export class HoldingRedis {
  #proxy: RedisProxy | null = null
  #armed = false
  /** Chunks held per connection (its Redis side), in order; null while nothing is held. */
  #held: { redis: Socket; chunks: Buffer[] }[] | null = null
  #onHeld: (() => void) | null = null
  /** Resolves once a subscribe is held (after arm()). */
  held: Promise<void> = Promise.resolve()

  static async start(target: { port: number }): Promise<HoldingRedis> {
    const holding = new HoldingRedis()
    holding.#proxy = await RedisProxy.start(target, (client, redis) => holding.#pipe(client, redis))
    return holding
  }

  get url(): string {
    return this.#proxy!.url
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

  #pipe(client: Socket, redis: Socket): void {
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
  }

  close(): Promise<void> {
    return this.#proxy!.close()
  }
}
