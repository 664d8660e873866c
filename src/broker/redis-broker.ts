import { EventEmitter } from 'node:events'
import { pino, type Logger } from 'pino'
import type { DeliveryMessage } from './handover-messages.js'
import type { DirectMessage, Publication } from '../protocol/messages.js'
import { randomUUID } from 'node:crypto'
import type { Broker, BrokerInstance, BrokerSink, BrokerState, BrokerStats, DirectOutcome, PublishOptions, PublishOutcome } from './broker.js'
import {
  deliveryClusterMessage,
  directMessage,
  heartbeatMessage,
  leaveMessage,
  publicationMessage,
  publicationMessageHead,
  withoutPosition,
} from './cluster-messages.js'
import type { HistoryStore } from './history-store.js'
import type { HistoryOptions, HistoryPage } from './position.js'
import { RedisHistory } from './redis-history.js'
import { roomChannel } from './cluster-channels.js'
import { ClusterView } from './cluster-view.js'
import { DeliveryReports } from './delivery-reports.js'
import { DirectAcks } from './direct-acks.js'
import type { RedisTimings } from './redis-connection.js'
import { type RedisNames, redisNames } from './redis-channels.js'
import { ClusterInbound } from './redis-inbound.js'
import { RedisLink } from './redis-link.js'
import { RoomSubscriptions } from './redis-rooms.js'

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
 * The connections and their state are `RedisLink`'s, the room subscriptions
 * `RoomSubscriptions`', what arrives `ClusterInbound`'s.
 *
 * Emits `state` (BrokerState) on every state change and `peers` on every heartbeat or leave heard.
 */
export class RedisBroker extends EventEmitter implements Broker {
  readonly kind = 'redis'
  readonly #opts: RedisBrokerOptions
  readonly #link: RedisLink
  readonly #rooms: RoomSubscriptions
  readonly #inbound: ClusterInbound
  readonly #view: ClusterView
  readonly #acks: DirectAcks
  readonly #history: HistoryStore
  readonly #reports: DeliveryReports
  #sink: BrokerSink | null = null
  #self: BrokerInstance | null = null
  #names: RedisNames | null = null
  #heartbeat: NodeJS.Timeout | null = null
  #published = 0
  #refused = 0

  constructor(opts: RedisBrokerOptions) {
    super()
    this.#opts = opts
    const log = (opts.logger ?? pino({ level: 'silent' })).child({ bridge: 'redis' })
    const view = (this.#view = new ClusterView(opts.expiryMs ?? 6000))
    const acks = (this.#acks = new DirectAcks(opts.directTimeoutMs ?? 1000))
    const reports = (this.#reports = new DeliveryReports(opts.directTimeoutMs ?? 1000))
    const self = () => this.#self
    const names = () => this.#names
    const link = (this.#link = new RedisLink(opts.url, {
      log,
      publisherReady: () => this.#beat(),
      subscriberReady: () => void this.#rooms.resubscribe(),
      subscriberLost: () => this.#rooms.lost(),
      subscribed: () => this.#rooms.ready,
      message: (raw) => this.#inbound.message(raw),
      changed: (state) => this.emit('state', state),
    }))
    this.#rooms = new RoomSubscriptions({
      sub: () => link.sub,
      names,
      observeAll: () => this.#self?.observeAll === true,
      closed: () => link.state === 'closed',
      resubscribed: () => {
        link.refresh()
        this.#beat()
      },
      log,
      subscribeTimeoutMs: opts.subscribeTimeoutMs ?? 1000,
    })
    const send = (channel: string, text: string) => link.send(channel, text)
    const beat = () => this.#beat()
    const peers = () => void this.emit('peers')
    this.#inbound = new ClusterInbound({ self, sink: () => this.#sink, names, send, beat, peers, view, acks, reports, log })
    this.#history = new RedisHistory({
      connection: () => link.pub,
      names,
      onMalformed: (raw) => this.#inbound.countMalformed(raw),
      timeoutMs: opts.historyTimeoutMs ?? 2000,
    })
  }

  get state(): BrokerState {
    return this.#link.state
  }

  async start(sink: BrokerSink, instance: BrokerInstance): Promise<void> {
    this.#sink = sink
    this.#self = instance
    this.#names = redisNames(this.#opts.prefix ?? 'roomcast:', instance.service)
    const tag = `roomcast-${instance.service}-${instance.id.slice(0, 8)}`
    await this.#link.open(tag, this.#opts, this.#opts.startTimeoutMs ?? 1000)
    this.#heartbeat = setInterval(() => this.#beat(), this.#opts.heartbeatMs ?? 2000)
    this.#heartbeat.unref()
  }

  async publish(pub: Publication, history: HistoryOptions | null, opts: PublishOptions = {}): Promise<PublishOutcome> {
    this.#published++
    const report = opts.countRemote === true && this.#link.state === 'connected' ? randomUUID() : undefined
    const remote = report === undefined ? null : this.#reports.open(report)
    if (history !== null) return this.#publishStored(pub, history, report, remote)
    const local = this.#sink?.deliver(pub) ?? 0
    if (this.#names === null || this.#self === null) return { pub, local, instances: 0, remote: 0 }
    const receivers = await this.#link.send(this.#names.room(pub.channel), publicationMessage(this.#self.id, pub, report))
    const instances = this.#others(pub.channel, receivers)
    return { pub, local, instances, remote: await this.#remote(report, remote, instances) }
  }

  /** The subscribers other instances reported, once `instances` of them answered (or the wait ran out). */
  async #remote(report: string | undefined, remote: Promise<number> | null, instances: number): Promise<number> {
    if (report === undefined || remote === null) return 0
    this.#reports.expect(report, instances)
    return remote
  }

  async history(channel: string, after: number | null, opts: HistoryOptions): Promise<HistoryPage> {
    return this.#history.read(channel, after, opts)
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
      const out = { channel: roomChannel(pub.channel), head: publicationMessageHead(this.#self?.id ?? '', pub, report), send: () => Promise.resolve(0) }
      result = await this.#history.appendAndPublish(withoutPosition(pub), history, out)
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
    const self = this.#rooms.listens(channel) ? 1 : 0
    return Math.max(0, receivers - self)
  }

  sendDirect(msg: DirectMessage): DirectOutcome | Promise<DirectOutcome> {
    if (this.#sink?.deliverDirect(msg) === true) return 'local'
    const peers = this.#view.instances() - 1
    if (this.#names === null || this.#self === null || this.#link.state !== 'connected' || peers === 0) return 'unknown'
    const outcome = this.#acks.expect(msg.id, peers)
    void this.#link.send(this.#names.direct, directMessage(this.#self.id, msg))
    return outcome
  }

  sendDelivery(msg: DeliveryMessage): void {
    if (this.#names !== null && this.#self !== null) this.#link.send(this.#names.cluster, deliveryClusterMessage(this.#self.id, msg))
  }

  roomActive(room: string): void {
    this.#rooms.active(room)
  }

  roomIdle(room: string): void {
    this.#rooms.idle(room)
  }

  whenSubscribed(room: string): Promise<void> | null {
    return this.#rooms.whenSubscribed(room)
  }

  stats(): BrokerStats {
    const own = this.#self?.connections() ?? 0
    return {
      state: this.#link.state,
      kind: this.kind,
      instances: this.#view.instances(),
      published: this.#published,
      received: this.#inbound.received,
      malformed: this.#inbound.malformed,
      dropped: this.#link.dropped,
      refused: this.#refused,
      clusterConnections: this.#view.connections(own),
    }
  }

  async close(): Promise<void> {
    if (!this.#link.shut()) return
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat)
    this.#acks.clear()
    this.#reports.clear()
    const names = this.#names
    const self = this.#self
    await this.#link.quit(names !== null && self !== null ? { channel: names.cluster, text: leaveMessage(self.id) } : null)
    this.#sink = null
  }

  #beat(): void {
    if (this.#names === null || this.#self === null || this.#link.state !== 'connected') return
    void this.#link.send(this.#names.cluster, heartbeatMessage(this.#self.id, this.#self.connections()))
  }
}
