import { EventEmitter } from 'node:events'
import type { Redis } from 'ioredis'
import { pino, type Logger } from 'pino'
import type { DeliveryMessage } from '../delivery/delivery-messages.js'
import type { DirectMessage, Publication } from '../protocol/messages.js'
import { randomUUID } from 'node:crypto'
import type { Broker, BrokerInstance, BrokerSink, BrokerState, BrokerStats, DirectOutcome, PublishOptions, PublishOutcome } from './broker.js'
import {
  carriedPublication,
  type ClusterMessage,
  decodeClusterMessage,
  deliveryClusterMessage,
  deliveryReportMessage,
  directAckMessage,
  directMessage,
  heartbeatMessage,
  leaveMessage,
  publicationMessage,
  publicationMessageHead,
  withoutPosition,
} from './cluster-messages.js'
import { newEpoch } from './memory-history.js'
import type { HistoryOptions, HistoryPage } from './position.js'
import { RedisHistory } from './redis-history.js'
import { ClusterView } from './cluster-view.js'
import { DeliveryReports } from './delivery-reports.js'
import { DirectAcks } from './direct-acks.js'
import { openRedis, type RedisTimings, redactUrl } from './redis-connection.js'
import { type RedisNames, redisNames } from './redis-channels.js'

export interface RedisBrokerOptions extends RedisTimings {
  /** `redis://[:password@]host:port/db` */
  readonly url: string
  /** Prefix of every Redis channel name. @default 'roomcast:' */
  readonly prefix?: string
  readonly logger?: Logger
  /** How often this instance announces itself. @default 2000 ms */
  readonly heartbeatMs?: number
  /** An instance not heard from for this long is no longer counted. @default 6000 ms */
  readonly expiryMs?: number
  /** How long start() waits for Redis before the instance goes on standalone. @default 1000 ms */
  readonly startTimeoutMs?: number
  /** How long a subscribe waits for Redis to confirm its room's channel. @default 1000 ms */
  readonly subscribeTimeoutMs?: number
  /** How long a direct message forwarded to other instances waits for their answers. @default 1000 ms */
  readonly directTimeoutMs?: number
  /** How long a history publish or read waits for Redis before it is refused (BROKER_UNAVAILABLE). @default 2000 ms */
  readonly historyTimeoutMs?: number
}

/**
 * Redis pub/sub between the instances of one service. A publication is delivered to local
 * subscribers at once and sent to Redis tagged with this instance's id; what comes back with
 * that id is our own echo and is dropped, so every subscriber gets each event once. One
 * connection publishes, another subscribes. While Redis is away the instance serves its own
 * clients and counts what it could not send; on `ready` it resubscribes and carries on.
 *
 * Emits `state` (BrokerState) on every state change and `peers` on every heartbeat or leave heard.
 */
export class RedisBroker extends EventEmitter implements Broker {
  readonly kind = 'redis'
  readonly #opts: RedisBrokerOptions
  readonly #log: Logger
  readonly #rooms = new Set<string>()
  readonly #pending = new Map<string, Promise<void>>()
  readonly #view: ClusterView
  readonly #acks: DirectAcks
  readonly #history: RedisHistory
  readonly #reports: DeliveryReports
  #sink: BrokerSink | null = null
  #self: BrokerInstance | null = null
  #names: RedisNames | null = null
  #pub: Redis | null = null
  #sub: Redis | null = null
  #subReady = false
  #starting = true
  #state: BrokerState = 'connecting'
  #heartbeat: NodeJS.Timeout | null = null
  #published = 0
  #received = 0
  #malformed = 0
  #dropped = 0
  #refused = 0
  #lastError: string | null = null

  constructor(opts: RedisBrokerOptions) {
    super()
    this.#opts = opts
    this.#log = (opts.logger ?? pino({ level: 'silent' })).child({ bridge: 'redis' })
    this.#view = new ClusterView(opts.expiryMs ?? 6000)
    this.#acks = new DirectAcks(opts.directTimeoutMs ?? 1000)
    this.#reports = new DeliveryReports(opts.directTimeoutMs ?? 1000)
    this.#history = new RedisHistory({
      connection: () => this.#pub,
      keys: (channel) => this.#namesOrThrow().streamKeys(channel),
      room: (channel) => this.#namesOrThrow().room(channel),
      head: (pub, report) => publicationMessageHead(this.#self?.id ?? '', pub, report),
      onMalformed: (raw) => this.#countMalformed(raw),
      timeoutMs: opts.historyTimeoutMs ?? 2000,
    })
  }

  get state(): BrokerState {
    return this.#state
  }

  async start(sink: BrokerSink, instance: BrokerInstance): Promise<void> {
    this.#sink = sink
    this.#self = instance
    this.#names = redisNames(this.#opts.prefix ?? 'roomcast:', instance.service)
    const tag = `roomcast-${instance.service}-${instance.id.slice(0, 8)}`
    const pub = (this.#pub = openRedis(this.#opts.url, `${tag}-pub`, this.#opts))
    const sub = (this.#sub = openRedis(this.#opts.url, `${tag}-sub`, this.#opts))
    for (const [role, conn] of [['pub', pub], ['sub', sub]] as const) {
      conn.on('error', (err: Error) => {
        this.#lastError = err.message
        this.#log.debug({ err: err.message, role }, 'redis error')
      })
      conn.on('close', () => {
        if (role === 'sub') this.#subReady = false
        this.#refresh()
      })
    }
    pub.on('ready', () => {
      this.#refresh()
      this.#beat()
    })
    sub.on('ready', () => void this.#resubscribe())
    sub.on('message', (_channel: string, raw: string) => this.#onMessage(raw))
    sub.on('pmessage', (_pattern: string, _channel: string, raw: string) => this.#onMessage(raw))

    let check: (state: BrokerState) => void = () => {}
    const connected = new Promise<void>((resolve) => {
      check = (state) => state === 'connected' && resolve()
      this.on('state', check)
      setTimeout(resolve, this.#opts.startTimeoutMs ?? 1000).unref()
    }).finally(() => this.off('state', check))
    // A failed first attempt means standalone at once; ioredis goes on retrying regardless.
    const refused = new Promise<void>((resolve) => {
      for (const conn of [pub, sub]) conn.connect().catch(() => resolve())
    })
    await Promise.race([connected, refused])
    this.#starting = false
    this.#refresh()
    if (this.#state !== 'connected') {
      this.#log.warn({ url: redactUrl(this.#opts.url), error: this.#lastError }, 'redis unreachable at start: running standalone (bridge degraded) until it is back')
    }
    this.#heartbeat = setInterval(() => this.#beat(), this.#opts.heartbeatMs ?? 2000)
    this.#heartbeat.unref()
  }

  async publish(pub: Publication, history: HistoryOptions | null, opts: PublishOptions = {}): Promise<PublishOutcome> {
    this.#published++
    const report = opts.countRemote === true && this.#state === 'connected' ? randomUUID() : undefined
    const remote = report === undefined ? null : this.#reports.open(report)
    if (history !== null) return this.#publishStored(pub, history, report, remote)
    const local = this.#sink?.deliver(pub) ?? 0
    if (this.#names === null || this.#self === null) return { pub, local, instances: 0, remote: 0 }
    const receivers = await this.#send(this.#names.room(pub.channel), publicationMessage(this.#self.id, pub, report))
    const instances = this.#others(pub.channel, receivers)
    return { pub, local, instances, remote: await this.#remote(report, remote, instances) }
  }

  /** The subscribers other instances reported, once `instances` of them answered (or the wait ran out). */
  async #remote(report: string | undefined, remote: Promise<number> | null, instances: number): Promise<number> {
    if (report === undefined || remote === null) return 0
    this.#reports.expect(report, instances)
    return remote
  }

  history(channel: string, after: number | null, opts: HistoryOptions): Promise<HistoryPage> {
    return this.#history.read(channel, after, opts, newEpoch())
  }

  /**
   * Stored, numbered and published by one script. Not delivered here at once: local subscribers
   * get it when Redis hands it back, in the order Redis numbered it, interleaved correctly with
   * other instances' publications of the same channel (a reply and a pub/sub message travel on
   * different connections, so delivering on the reply could put offset 5 before offset 4).
   */
  async #publishStored(pub: Publication, history: HistoryOptions, report: string | undefined, remote: Promise<number> | null): Promise<PublishOutcome> {
    let result
    try {
      result = await this.#history.append(withoutPosition(pub), history, newEpoch(), report)
    } catch (err) {
      this.#refused++
      if (report !== undefined) this.#reports.expect(report, 0)
      throw err
    }
    const stored: Publication = { ...pub, position: result.position }
    const instances = this.#others(pub.channel, result.receivers)
    const local = this.#sink?.subscriberCount(pub.channel) ?? 0
    return { pub: stored, local, instances, remote: await this.#remote(report, remote, instances) }
  }

  /** Other instances among the connections Redis handed a room's message to (ours is one when we listen). */
  #others(channel: string, receivers: number): number {
    const self = this.#subReady && (this.#self?.observeAll === true || this.#rooms.has(channel)) ? 1 : 0
    return Math.max(0, receivers - self)
  }

  #namesOrThrow(): RedisNames {
    if (this.#names === null) throw new Error('broker not started')
    return this.#names
  }

  sendDirect(msg: DirectMessage): DirectOutcome | Promise<DirectOutcome> {
    if (this.#sink?.deliverDirect(msg) === true) return 'local'
    const peers = this.#view.instances() - 1
    if (this.#names === null || this.#self === null || this.#state !== 'connected' || peers === 0) return 'unknown'
    const outcome = this.#acks.expect(msg.id, peers)
    void this.#send(this.#names.direct, directMessage(this.#self.id, msg))
    return outcome
  }

  sendDelivery(msg: DeliveryMessage): void {
    if (this.#names !== null && this.#self !== null) this.#send(this.#names.cluster, deliveryClusterMessage(this.#self.id, msg))
  }

  roomActive(room: string): void {
    this.#rooms.add(room)
    if (this.#self?.observeAll === true || !this.#subReady) return
    this.#pending.set(room, this.#subscribeRoom(room))
  }

  roomIdle(room: string): void {
    this.#rooms.delete(room)
    this.#pending.delete(room)
    if (this.#self?.observeAll === true || !this.#subReady || this.#sub === null || this.#names === null) return
    this.#sub.unsubscribe(this.#names.room(room)).catch((err: Error) => this.#log.debug({ err: err.message, room }, 'unsubscribe failed'))
  }

  whenSubscribed(room: string): Promise<void> | null {
    return this.#pending.get(room) ?? null
  }

  stats(): BrokerStats {
    const own = this.#self?.connections() ?? 0
    return {
      state: this.#state,
      kind: this.kind,
      instances: this.#view.instances(),
      published: this.#published,
      received: this.#received,
      malformed: this.#malformed,
      dropped: this.#dropped,
      refused: this.#refused,
      clusterConnections: this.#view.connections(own),
    }
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return
    this.#setState('closed')
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat)
    this.#acks.clear()
    this.#reports.clear()
    const pub = this.#pub
    const sub = this.#sub
    if (pub !== null && pub.status === 'ready' && this.#names !== null && this.#self !== null) {
      await pub.publish(this.#names.cluster, leaveMessage(this.#self.id)).catch(() => {})
    }
    await Promise.allSettled([pub?.quit(), sub?.quit()])
    pub?.disconnect()
    sub?.disconnect()
    this.#sink = null
  }

  // ── internals ──────────────────────────────────────────────────────────────────────────

  /** Subscribes one room's channel; the promise settles on confirmation, failure or timeout. */
  #subscribeRoom(room: string): Promise<void> {
    const sub = this.#sub
    const names = this.#names
    if (sub === null || names === null) return Promise.resolve()
    const done = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.#opts.subscribeTimeoutMs ?? 1000)
      timer.unref()
      sub.subscribe(names.room(room)).then(
        () => resolve(),
        (err: Error) => {
          this.#log.debug({ err: err.message, room }, 'subscribe failed; retried when redis is back')
          resolve()
        },
      ).finally(() => clearTimeout(timer))
    })
    void done.then(() => {
      if (this.#pending.get(room) === done) this.#pending.delete(room)
    })
    return done
  }

  /** On every (re)connect of the subscriber: the cluster channels, then every room (or all rooms). */
  async #resubscribe(): Promise<void> {
    const sub = this.#sub
    const names = this.#names
    if (sub === null || names === null || this.#state === 'closed') return
    const snapshot = new Set(this.#rooms)
    try {
      if (this.#self?.observeAll === true) {
        await sub.subscribe(names.cluster, names.direct)
        await sub.psubscribe(names.allRooms)
      } else {
        await sub.subscribe(names.cluster, names.direct, ...[...snapshot].map((r) => names.room(r)))
      }
      this.#subReady = true
      // Rooms that became active, or idle, while the resubscribe was in flight.
      for (const room of this.#rooms) if (!snapshot.has(room)) this.roomActive(room)
      for (const room of snapshot) if (!this.#rooms.has(room)) this.roomIdle(room)
    } catch (err) {
      this.#log.debug({ err: (err as Error).message }, 'resubscribe failed; retried on the next reconnect')
    }
    this.#refresh()
    this.#beat()
  }

  /** Best-effort PUBLISH; resolves with the number of connections Redis handed it to (0 when it could not). */
  #send(channel: string, text: string): Promise<number> {
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

  #beat(): void {
    if (this.#names === null || this.#self === null || this.#state !== 'connected') return
    void this.#send(this.#names.cluster, heartbeatMessage(this.#self.id, this.#self.connections()))
  }

  #onMessage(raw: string): void {
    const msg = decodeClusterMessage(raw)
    if (msg === null) return this.#countMalformed(raw)
    // Our own echo was delivered locally when it was published, unless it is a stored one (see #publishStored).
    if (msg.origin === this.#self?.id && !(msg.type === 'publication' && msg.offset !== undefined)) return
    try {
      this.#handle(msg)
    } catch (err) {
      this.#log.error({ err, type: msg.type }, 'delivering a cluster message failed')
    }
  }

  #countMalformed(sample: string): void {
    this.#malformed++
    if (this.#malformed === 1 || this.#malformed % 1000 === 0) {
      this.#log.warn({ malformed: this.#malformed, sample: sample.slice(0, 200) }, 'dropped a malformed message from redis')
    }
  }

  #handle(msg: ClusterMessage): void {
    switch (msg.type) {
      case 'publication': {
        const own = msg.origin === this.#self?.id
        if (!own && this.#self?.accepts?.(msg.pub) === false) return this.#countMalformed(JSON.stringify(msg.pub))
        if (!own) this.#received++
        const delivered = this.#sink?.deliver(carriedPublication(msg)) ?? 0
        if (!own && msg.report !== undefined && this.#names !== null && this.#self !== null) {
          void this.#send(this.#names.direct, deliveryReportMessage(this.#self.id, msg.report, delivered))
        }
        return
      }
      case 'delivery_report':
        this.#reports.report(msg.id, msg.delivered)
        return
      case 'direct': {
        const found = this.#sink?.deliverDirect(msg.msg) === true
        if (this.#names !== null && this.#self !== null) void this.#send(this.#names.direct, directAckMessage(this.#self.id, msg.msg.id, found))
        return
      }
      case 'direct_ack':
        this.#acks.answer(msg.id, msg.found)
        return
      case 'heartbeat':
        // A newcomer hears from us at once instead of after a heartbeat period.
        if (this.#view.heard(msg.origin, msg.connections)) this.#beat()
        this.emit('peers')
        return
      case 'delivery':
        this.#sink?.receiveDelivery?.(msg.origin, msg.msg)
        return
      case 'leave':
        this.#view.left(msg.origin)
        this.emit('peers')
    }
  }

  #refresh(): void {
    if (this.#state === 'closed') return
    const up = this.#pub?.status === 'ready' && this.#subReady
    this.#setState(up ? 'connected' : this.#starting ? 'connecting' : 'degraded')
  }

  #setState(next: BrokerState): void {
    const prev = this.#state
    if (prev === next) return
    this.#state = next
    if (prev === 'connected' && next === 'degraded') this.#log.warn({ error: this.#lastError }, 'redis connection lost: delivering to local clients only')
    if (prev === 'degraded' && next === 'connected') this.#log.info('redis is back: cluster delivery resumed')
    this.emit('state', next)
  }
}
