import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { openRedis, type RedisTimings, redactUrl } from './redis-connection.js'
import { CLOSE_WAIT_MS, settledWithin } from './outstanding-writes.js'
import { type RedisNames, redisNames } from './redis-channels.js'
import type { Transport, TransportEvents } from './transport.js'

export interface RedisTransportOptions extends RedisTimings {
  /** `redis://[:password@]host:port/db` */
  readonly url: string
  /** Prefix of every Redis channel name. @default 'roomcast:' */
  readonly prefix?: string
  readonly logger?: Logger
}

/**
 * Redis pub/sub: one connection publishes, another subscribes (a subscribed connection can do
 * nothing else). Cluster channel names become Redis names in redis-channels.ts. ioredis
 * reconnects forever; the cluster layer resubscribes on `receiveReady`, because a SUBSCRIBE
 * attempted while Redis was away is not remembered. The history store on Redis shares the
 * publishing connection (`connection`), so a publication is stored and published by one script.
 */
export class RedisTransport implements Transport {
  readonly kind = 'redis'
  readonly standalone = false
  readonly #opts: RedisTransportOptions
  #pub: Redis | null = null
  #sub: Redis | null = null
  #names: RedisNames | null = null
  #lastError: string | null = null

  constructor(opts: RedisTransportOptions) {
    this.#opts = opts
  }

  get ready(): boolean {
    return this.#pub?.status === 'ready'
  }

  get address(): string {
    return redactUrl(this.#opts.url)
  }

  get lastError(): string | null {
    return this.#lastError
  }

  /** The publishing connection (null before open). */
  get connection(): Redis | null {
    return this.#pub
  }

  /** The service's Redis names (null before open). */
  get names(): RedisNames | null {
    return this.#names
  }

  async open(service: string, name: string, events: TransportEvents): Promise<boolean> {
    this.#names = redisNames(this.#opts.prefix ?? 'roomcast:', service)
    const pub = (this.#pub = openRedis(this.#opts.url, `${name}-pub`, this.#opts))
    const sub = (this.#sub = openRedis(this.#opts.url, `${name}-sub`, this.#opts))
    for (const [side, conn] of [['send', pub], ['receive', sub]] as const) {
      conn.on('error', (err: Error) => {
        this.#lastError = err.message
        this.#opts.logger?.debug({ err: err.message, side }, 'redis error')
      })
      conn.on('close', () => events.lost(side))
    }
    pub.on('ready', () => events.sendReady())
    sub.on('ready', () => events.receiveReady())
    // A room subscribed both by name and by the every-room pattern (only while the cluster layer
    // switches between the two, cluster-rooms.ts) comes twice from one PUBLISH, as a `message` and
    // a `pmessage` written back to back: the second of such a pair is dropped. Nothing else can
    // come between them (Redis runs one PUBLISH at a time), and no two publications have the
    // same bytes (each carries its own id).
    // (Three variables, no object per message: this is every instance's receive path.)
    let lastPattern = false
    let lastChannel: string | null = null
    let lastRaw = ''
    const heard = (pattern: boolean, channel: string, raw: string) => {
      if (lastChannel === channel && lastPattern !== pattern && lastRaw === raw) {
        lastChannel = null
        return
      }
      lastPattern = pattern
      lastChannel = channel
      lastRaw = raw
      events.message(raw)
    }
    sub.on('message', (channel: string, raw: string) => heard(false, channel, raw))
    sub.on('pmessage', (_pattern: string, channel: string, raw: string) => heard(true, channel, raw))
    // A failed first attempt answers false at once; ioredis goes on retrying regardless.
    return Promise.all([pub.connect(), sub.connect()]).then(
      () => true,
      () => false,
    )
  }

  publish(channel: string, bytes: string): Promise<number> {
    const pub = this.#pub
    if (pub === null || this.#names === null) return Promise.reject(new Error('redis transport not open'))
    return pub.publish(this.#names.channel(channel), bytes)
  }

  subscribe(channels: readonly string[]): Promise<void> {
    const sub = this.#sub
    const names = this.#names
    if (sub === null || names === null) return Promise.reject(new Error('redis transport not open'))
    return sub.subscribe(...channels.map((c) => names.channel(c))).then(() => {})
  }

  subscribeEveryRoom(): Promise<void> {
    if (this.#sub === null || this.#names === null) return Promise.reject(new Error('redis transport not open'))
    return this.#sub.psubscribe(this.#names.allRooms).then(() => {})
  }

  unsubscribeEveryRoom(): Promise<void> {
    if (this.#sub === null || this.#names === null) return Promise.reject(new Error('redis transport not open'))
    return this.#sub.punsubscribe(this.#names.allRooms).then(() => {})
  }

  unsubscribe(channel: string): Promise<void> {
    if (this.#sub === null || this.#names === null) return Promise.reject(new Error('redis transport not open'))
    return this.#sub.unsubscribe(this.#names.channel(channel)).then(() => {})
  }

  async close(last: { readonly channel: string; readonly bytes: string } | null): Promise<void> {
    const pub = this.#pub
    const sub = this.#sub
    // Bounded: a Redis that accepts and never answers (stopped) must not hang the stop; disconnect() then drops what is left.
    const goodbye = (async () => {
      if (pub !== null && pub.status === 'ready' && last !== null) await this.publish(last.channel, last.bytes).catch(() => {})
      await Promise.allSettled([pub?.quit(), sub?.quit()])
    })()
    await settledWithin(goodbye, CLOSE_WAIT_MS)
    pub?.disconnect()
    sub?.disconnect()
  }
}
