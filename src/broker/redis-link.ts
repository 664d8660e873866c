import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { BrokerState } from './broker.js'
import { openRedis, type RedisTimings, redactUrl } from './redis-connection.js'

/** What the link tells the Redis broker, and asks it. */
export interface RedisLinkHost {
  readonly log: Logger
  /** The publisher connection is (again) ready: announce this instance. */
  publisherReady(): void
  /** The subscriber connection is (again) ready: resubscribe, then refresh() the link. */
  subscriberReady(): void
  /** The subscriber connection closed: its subscriptions are gone. */
  subscriberLost(): void
  /** Whether the subscriber has resubscribed since it last connected. */
  subscribed(): boolean
  /** A message on a subscribed channel or pattern. */
  message(raw: string): void
  /** Every state change, after it happened. */
  changed(state: BrokerState): void
}

/**
 * The two Redis connections of an instance, one publishing and one subscribed, and the state
 * they make together: `connecting` until start() gives up waiting, then `connected` while both
 * are up (the subscriber resubscribed), `degraded` while either is away, `closed` for good.
 */
export class RedisLink {
  readonly #url: string
  readonly #host: RedisLinkHost
  #pub: Redis | null = null
  #sub: Redis | null = null
  #starting = true
  #state: BrokerState = 'connecting'
  #lastError: string | null = null
  #dropped = 0
  #onConnected: (() => void) | null = null

  constructor(url: string, host: RedisLinkHost) {
    this.#url = url
    this.#host = host
  }

  get state(): BrokerState {
    return this.#state
  }

  /** The publishing connection (null before open). */
  get pub(): Redis | null {
    return this.#pub
  }

  /** The subscribed connection (null before open). */
  get sub(): Redis | null {
    return this.#sub
  }

  /** Messages that could not be sent (Redis was unreachable). */
  get dropped(): number {
    return this.#dropped
  }

  /**
   * Opens both connections, named after `tag`. Resolves once connected, at the first refused
   * attempt, or after `startTimeoutMs`: then the instance runs standalone (degraded) while
   * ioredis goes on retrying.
   */
  async open(tag: string, timings: RedisTimings, startTimeoutMs: number): Promise<void> {
    const pub = (this.#pub = openRedis(this.#url, `${tag}-pub`, timings))
    const sub = (this.#sub = openRedis(this.#url, `${tag}-sub`, timings))
    for (const [role, conn] of [['pub', pub], ['sub', sub]] as const) {
      conn.on('error', (err: Error) => {
        this.#lastError = err.message
        this.#host.log.debug({ err: err.message, role }, 'redis error')
      })
      conn.on('close', () => {
        if (role === 'sub') this.#host.subscriberLost()
        this.refresh()
      })
    }
    pub.on('ready', () => {
      this.refresh()
      this.#host.publisherReady()
    })
    sub.on('ready', () => this.#host.subscriberReady())
    sub.on('message', (_channel: string, raw: string) => this.#host.message(raw))
    sub.on('pmessage', (_pattern: string, _channel: string, raw: string) => this.#host.message(raw))

    const connected = new Promise<void>((resolve) => {
      this.#onConnected = resolve
      setTimeout(resolve, startTimeoutMs).unref()
    }).finally(() => {
      this.#onConnected = null
    })
    // A failed first attempt means standalone at once; ioredis goes on retrying regardless.
    const refused = new Promise<void>((resolve) => {
      for (const conn of [pub, sub]) conn.connect().catch(() => resolve())
    })
    await Promise.race([connected, refused])
    this.#starting = false
    this.refresh()
    if (this.#state !== 'connected') {
      this.#host.log.warn({ url: redactUrl(this.#url), error: this.#lastError }, 'redis unreachable at start: running standalone (bridge degraded) until it is back')
    }
  }

  /** Best-effort PUBLISH; resolves with the number of connections Redis handed it to (0 when it could not). */
  send(channel: string, text: string): Promise<number> {
    const pub = this.#pub
    if (pub === null || pub.status !== 'ready') {
      this.#dropped++
      return Promise.resolve(0)
    }
    return pub.publish(channel, text).catch(() => {
      this.#dropped++
      return 0
    })
  }

  /** Recomputes the state from the connections (no change once closed). */
  refresh(): void {
    if (this.#state === 'closed') return
    const up = this.#pub?.status === 'ready' && this.#host.subscribed()
    this.#setState(up ? 'connected' : this.#starting ? 'connecting' : 'degraded')
  }

  /** Marks the link closed for good; false when it already was. */
  shut(): boolean {
    if (this.#state === 'closed') return false
    this.#setState('closed')
    return true
  }

  /** Sends `last` (when the publisher is up and it is given), then quits both connections. */
  async quit(last: { readonly channel: string; readonly text: string } | null): Promise<void> {
    const pub = this.#pub
    const sub = this.#sub
    if (pub !== null && pub.status === 'ready' && last !== null) await pub.publish(last.channel, last.text).catch(() => {})
    await Promise.allSettled([pub?.quit(), sub?.quit()])
    pub?.disconnect()
    sub?.disconnect()
  }

  #setState(next: BrokerState): void {
    const prev = this.#state
    if (prev === next) return
    this.#state = next
    if (prev === 'connected' && next === 'degraded') this.#host.log.warn({ error: this.#lastError }, 'redis connection lost: delivering to local clients only')
    if (prev === 'degraded' && next === 'connected') this.#host.log.info('redis is back: cluster delivery resumed')
    this.#host.changed(next)
    if (next === 'connected') this.#onConnected?.()
  }
}
