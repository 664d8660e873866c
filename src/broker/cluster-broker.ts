import { randomUUID } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { pino, type Logger } from 'pino'
import type { DirectMessage, Publication } from '../protocol/messages.js'
import type { Broker, BrokerInstance, BrokerSink, BrokerState, BrokerStats, DirectOutcome, PublishOptions, PublishOutcome } from './broker.js'
import { CONTROL_CHANNEL, DIRECT_CHANNEL, roomChannel } from './cluster-channels.js'
import { ClusterInbound } from './cluster-inbound.js'
import { ClusterLink } from './cluster-link.js'
import {
  deliveryClusterMessage,
  directMessage,
  heartbeatMessage,
  leaveMessage,
  publicationMessage,
  publicationMessageHead,
  withoutPosition,
} from './cluster-messages.js'
import { ClusterRooms } from './cluster-rooms.js'
import { ClusterPresence, type PresenceBook } from './cluster-presence.js'
import { ClusterView } from './cluster-view.js'
import { DeliveryReports } from './delivery-reports.js'
import { DirectAcks } from './direct-acks.js'
import type { DeliveryMessage } from './handover-messages.js'
import type { Appended, HistoryStore, OutgoingPublication } from './history-store.js'
import { memoryPendingStore, type PendingStore } from './pending-store.js'
import type { HistoryOptions, HistoryPage } from './position.js'
import type { Transport } from './transport.js'

/** How the cluster layer waits; every bound has a default. */
export interface ClusterTimings {
  /** How often this instance announces itself. @default 2000 ms */
  readonly heartbeatMs?: number
  /** An instance not heard from for this long is no longer counted. @default 6000 ms */
  readonly expiryMs?: number
  /** How long start() waits for the cluster before the instance goes on standalone. @default 1000 ms */
  readonly startTimeoutMs?: number
  /** How long a subscribe waits for the transport to confirm its room's channel. @default 1000 ms */
  readonly subscribeTimeoutMs?: number
  /** How long a direct message forwarded to other instances waits for their answers. @default 1000 ms */
  readonly directTimeoutMs?: number
}

export interface ClusterBrokerOptions extends ClusterTimings {
  readonly transport: Transport
  readonly history: HistoryStore
  /** The durable record of pending tracked deliveries; none (memory) by default. */
  readonly pending?: PendingStore
  readonly logger?: Logger
}

/**
 * The cluster layer every transport shares: the message union, the origin and echo filter, the
 * instance view and heartbeats, direct sends, delivery reports and tracked-delivery handover.
 * A publication is delivered to local subscribers at once and sent tagged with this instance's
 * id; what comes back with that id is our own echo and is dropped, so every subscriber gets each
 * event once. A history publication is stored and sent by the history store in one step and
 * delivered here when the transport hands it back, like everywhere else. While the cluster is
 * away the instance serves its own clients and counts what it could not send. The transport
 * only moves bytes (transport.ts); a standalone one (one process) is sent nothing at all.
 *
 * Emits `state` (BrokerState) on every state change, `peers` on every heartbeat or leave heard,
 * and `presence` when what it knows of another instance's subscribers changed.
 */
export class ClusterBroker extends EventEmitter implements Broker {
  readonly kind: string
  readonly pending: PendingStore
  readonly #opts: ClusterBrokerOptions
  readonly #transport: Transport
  readonly #store: HistoryStore
  readonly #link: ClusterLink
  readonly #rooms: ClusterRooms
  readonly #inbound: ClusterInbound
  readonly #view: ClusterView
  readonly #presence: ClusterPresence
  readonly #acks: DirectAcks
  readonly #reports: DeliveryReports
  #sink: BrokerSink | null = null
  #self: BrokerInstance | null = null
  #heartbeat: NodeJS.Timeout | null = null
  #published = 0
  #refused = 0
  #dropped = 0

  constructor(opts: ClusterBrokerOptions) {
    super()
    this.#opts = opts
    const transport = (this.#transport = opts.transport)
    this.#store = opts.history
    this.pending = opts.pending ?? memoryPendingStore
    this.kind = transport.kind
    const log = (opts.logger ?? pino({ level: 'silent' })).child({ bridge: transport.kind })
    const view = (this.#view = new ClusterView(opts.expiryMs ?? 6000))
    const acks = (this.#acks = new DirectAcks(opts.directTimeoutMs ?? 1000))
    const reports = (this.#reports = new DeliveryReports(opts.directTimeoutMs ?? 1000))
    this.#link = new ClusterLink(transport, log, {
      subscribed: () => this.#rooms.ready,
      changed: (state) => this.emit('state', state),
    })
    this.#rooms = new ClusterRooms({
      transport,
      observeAll: () => this.#self?.observeAll === true,
      closed: () => this.#link.state === 'closed',
      resubscribed: () => {
        this.#link.refresh()
        this.#beat()
      },
      log,
      subscribeTimeoutMs: opts.subscribeTimeoutMs ?? 1000,
    })
    const self = () => this.#self
    const send = (channel: string, text: string) => void this.#send(channel, text)
    const beat = () => this.#beat()
    const peers = () => void this.emit('peers')
    const presence = (this.#presence = new ClusterPresence({
      selfId: () => this.#self?.id ?? null,
      clustered: () => !transport.standalone,
      send: (text) => send(CONTROL_CHANNEL, text),
      peers: () => view.peerIds(),
      events: () => {
        const sink = this.#sink
        if (sink === null) return null
        // Reported from the heartbeat timer too (an expired instance): a failure is logged, never thrown there.
        const guard = (what: string, channel: string, fn: () => void) => {
          try {
            fn()
          } catch (err) {
            log.error({ err, channel }, `presence: reporting ${what} failed`)
          }
        }
        return {
          occupied: (channel) => guard('occupied', channel, () => sink.occupied?.(channel)),
          vacated: (channel) => guard('vacated', channel, () => sink.vacated?.(channel)),
          gone: (channel, members) => guard('gone', channel, () => sink.gone?.(channel, members)),
        }
      },
      changed: () => void this.emit('presence'),
      askAgainMs: opts.heartbeatMs ?? 2000,
    }))
    this.#inbound = new ClusterInbound({ self, sink: () => this.#sink, send, beat, peers, view, presence, acks, reports, log })
  }

  get state(): BrokerState {
    return this.#link.state
  }

  get presence(): PresenceBook {
    return this.#presence
  }

  async start(sink: BrokerSink, instance: BrokerInstance): Promise<void> {
    this.#sink = sink
    this.#self = instance
    this.#store.open((raw) => this.#inbound.countMalformed(raw))
    if (this.#transport.standalone) return
    const name = `roomcast-${instance.service}-${instance.id.slice(0, 8)}`
    await this.#link.open(instance.service, name, this.#opts.startTimeoutMs ?? 1000, {
      message: (bytes) => this.#inbound.message(bytes),
      sendReady: () => {
        this.#link.refresh()
        this.#beat()
        // Others may have missed our presence changes while we could not send: a whole copy, in a
        // later turn (a Redis Cluster connection tells sendReady and receiveReady in one turn; a
        // send between them once took the SSUBSCRIBEs auto-pipelined with it to a command
        // connection: fixed in redis-cluster-transport.ts, the later turn kept).
        setImmediate(() => this.#presence.resend())
      },
      receiveReady: () => void this.#rooms.resubscribe(),
      lost: (side) => {
        if (side === 'receive') this.#rooms.lost()
        this.#link.refresh()
      },
    })
    this.#heartbeat = setInterval(() => {
      // An instance whose heartbeats stopped takes its presence with it (ClusterView's expiry).
      this.#presence.keepOnly(this.#view.peerIds())
      this.#beat()
    }, this.#opts.heartbeatMs ?? 2000)
    this.#heartbeat.unref()
  }

  async publish(pub: Publication, history: HistoryOptions | null, opts: PublishOptions = {}): Promise<PublishOutcome> {
    this.#published++
    const report = opts.countRemote === true && this.#link.state === 'connected' ? randomUUID() : undefined
    const remote = report === undefined ? null : this.#reports.open(report)
    if (history !== null) return this.#publishStored(pub, history, report, remote)
    const local = this.#sink?.deliver(pub) ?? 0
    if (this.#transport.standalone || this.#self === null) return { pub, local, instances: 0, remote: 0 }
    const receivers = await this.#sendPublication(pub, report, opts)
    const instances = this.#others(pub.channel, receivers)
    return { pub, local, instances, remote: await this.#remote(report, remote, instances) }
  }

  /** A publication's message to the other instances; recorded for its private channel's owner in the same step when asked. */
  #sendPublication(pub: Publication, report: string | undefined, opts: PublishOptions): Promise<number> {
    const message = publicationMessage((this.#self as BrokerInstance).id, pub, report)
    const record = opts.record
    const publish = this.pending.publishRecorded
    if (record === undefined || publish === undefined || !this.#transport.ready) return this.#send(roomChannel(pub.channel), message)
    return publish.call(this.pending, record.recipient, record.entry, roomChannel(pub.channel), message).catch(() => {
      this.#dropped++
      return 0
    })
  }

  /** The subscribers other instances reported, once `instances` of them answered (or the wait ran out). */
  async #remote(report: string | undefined, remote: Promise<number> | null, instances: number): Promise<number> {
    if (report === undefined || remote === null) return 0
    this.#reports.expect(report, instances)
    return remote
  }

  async history(channel: string, after: number | null, opts: HistoryOptions): Promise<HistoryPage> {
    return this.#store.read(channel, after, opts)
  }

  /**
   * Stored, numbered and sent in one step by the history store. Standalone, delivered here in the
   * same turn. Otherwise not delivered here at once: local subscribers get it when the transport
   * hands it back, in the order the store numbered it, interleaved correctly with other instances'
   * publications of the same channel (a store's answer and a transport message may travel on
   * different connections, so delivering on the answer could put offset 5 before offset 4).
   */
  #publishStored(pub: Publication, history: HistoryOptions, report: string | undefined, remote: Promise<number> | null): PublishOutcome | Promise<PublishOutcome> {
    const out = this.#outgoing(pub, report)
    let appending: Appended | Promise<Appended>
    try {
      appending = this.#store.appendAndPublish(out === null ? pub : withoutPosition(pub), history, out)
    } catch (err) {
      throw this.#refuse(err, report)
    }
    // Nobody to send to, and the store answered at once: deliver in this same turn, as it was
    // stored (and without an await, which would cost a publish turns of the microtask queue).
    if (out === null && !(appending instanceof Promise)) return this.#deliverStored(pub, appending)
    return Promise.resolve(appending).then(
      async (appended) => {
        if (out === null) return this.#deliverStored(pub, appended)
        const instances = this.#others(pub.channel, appended.receivers)
        const local = this.#sink?.subscriberCount(pub.channel) ?? 0
        return { pub: { ...pub, position: appended.position }, local, instances, remote: await this.#remote(report, remote, instances) }
      },
      (err: unknown) => {
        throw this.#refuse(err, report)
      },
    )
  }

  /** A stored publication delivered here at once (standalone: it is not sent, so it never comes back). */
  #deliverStored(pub: Publication, appended: Appended): PublishOutcome {
    const stored: Publication = appended.stored ?? { ...pub, position: appended.position }
    return { pub: stored, local: this.#sink?.deliver(stored) ?? 0, instances: 0, remote: 0 }
  }

  /** A history publication the store refused: counted, and nobody waits for reports about it. */
  #refuse(err: unknown, report: string | undefined): unknown {
    this.#refused++
    if (report !== undefined) this.#reports.expect(report, 0)
    return err
  }

  /** What a history publication is sent as; null standalone, where there is nobody to send to. */
  #outgoing(pub: Publication, report: string | undefined): OutgoingPublication | null {
    if (this.#transport.standalone || this.#self === null) return null
    const channel = roomChannel(pub.channel)
    return { channel, head: publicationMessageHead(this.#self.id, pub, report), send: (bytes) => this.#send(channel, bytes) }
  }

  /** Other instances among the subscribers the transport handed a room's message to (this one is one when it listens). */
  #others(channel: string, receivers: number): number {
    const self = this.#rooms.listens(channel) ? 1 : 0
    return Math.max(0, receivers - self)
  }

  sendDirect(msg: DirectMessage): DirectOutcome | Promise<DirectOutcome> {
    if (this.#sink?.deliverDirect(msg) === true) return 'local'
    const peers = this.#view.instances() - 1
    if (this.#self === null || this.#link.state !== 'connected' || peers === 0) return 'unknown'
    const outcome = this.#acks.expect(msg.id, peers)
    void this.#send(DIRECT_CHANNEL, directMessage(this.#self.id, msg))
    return outcome
  }

  sendDelivery(msg: DeliveryMessage): void {
    if (!this.#transport.standalone && this.#self !== null) void this.#send(CONTROL_CHANNEL, deliveryClusterMessage(this.#self.id, msg))
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

  observing(on: boolean): Promise<void> | null {
    if (this.#transport.standalone) return null
    this.#rooms.observe(on)
    return this.#rooms.whenHeard(on)
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
      dropped: this.#dropped,
      refused: this.#refused,
      clusterConnections: this.#transport.standalone ? null : this.#view.connections(own),
      ...(this.#transport.topology !== undefined ? { cluster: this.#transport.topology() } : {}),
    }
  }

  async close(): Promise<void> {
    if (!this.#link.shut()) return
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat)
    // Before the transport quits its connection, which drops what the client has not sent yet
    // (the store's last writes and releases, its lease's deletion: outstanding-writes.ts).
    await this.pending.close()
    this.#acks.clear()
    this.#reports.clear()
    const self = this.#self
    if (!this.#transport.standalone) {
      const ready = this.#transport.ready && self !== null
      await this.#transport.close(ready ? { channel: CONTROL_CHANNEL, bytes: leaveMessage(self.id) } : null)
    }
    this.#store.close()
    this.#sink = null
  }

  /** Best-effort send; resolves with the receivers, 0 when it could not be sent (counted as dropped). */
  #send(channel: string, bytes: string): Promise<number> {
    if (!this.#transport.ready) {
      this.#dropped++
      return Promise.resolve(0)
    }
    return this.#transport.publish(channel, bytes).catch(() => {
      this.#dropped++
      return 0
    })
  }

  #beat(): void {
    if (this.#self === null || this.#link.state !== 'connected') return
    void this.#send(CONTROL_CHANNEL, heartbeatMessage(this.#self.id, this.#self.connections(), this.#presence.seq))
    this.pending.renew()
  }
}
