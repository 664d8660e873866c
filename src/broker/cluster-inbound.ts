import type { Logger } from 'pino'
import type { BrokerInstance, BrokerSink } from './broker.js'
import { carriedPublication, type ClusterMessage, decodeClusterMessage, deliveryReportMessage, directAckMessage } from './cluster-messages.js'
import type { ClusterPresence } from './cluster-presence.js'
import type { ClusterView } from './cluster-view.js'
import type { DeliveryReports } from './delivery-reports.js'
import type { DirectAcks } from './direct-acks.js'
import { DIRECT_CHANNEL } from './cluster-channels.js'

/** What the inbound side needs from the cluster layer: who we are, where to deliver, how to answer. */
export interface ClusterInboundHost {
  self(): BrokerInstance | null
  sink(): BrokerSink | null
  /** Best-effort send on a cluster channel. */
  send(channel: string, text: string): void
  /** Announce this instance to the cluster now. */
  beat(): void
  /** The cluster view changed (a heartbeat or a leave was heard). */
  peers(): void
  readonly view: ClusterView
  readonly presence: ClusterPresence
  readonly acks: DirectAcks
  readonly reports: DeliveryReports
  readonly log: Logger
}

/**
 * Every message the transport receives: decoded and validated (a malformed one is
 * counted and dropped, never thrown), our own echo dropped, then handed to the sink (publications,
 * direct messages, tracked-delivery messages) or to the cluster bookkeeping (heartbeats, leaves,
 * acks, delivery reports, presence).
 */
export class ClusterInbound {
  readonly #host: ClusterInboundHost
  #received = 0
  #malformed = 0

  constructor(host: ClusterInboundHost) {
    this.#host = host
  }

  /** Publications received from other instances. */
  get received(): number {
    return this.#received
  }

  /** Messages that failed validation. */
  get malformed(): number {
    return this.#malformed
  }

  message(raw: string): void {
    const msg = decodeClusterMessage(raw)
    if (msg === null) return this.countMalformed(raw)
    // Our own echo was delivered locally when it was published, unless it is a stored one: the
    // history store sent it, and it is delivered here when it comes back (ClusterBroker#publishStored).
    if (msg.origin === this.#host.self()?.id && !(msg.type === 'publication' && msg.offset !== undefined)) return
    try {
      this.#handle(msg)
    } catch (err) {
      this.#host.log.error({ err, type: msg.type }, 'delivering a cluster message failed')
    }
  }

  countMalformed(sample: string): void {
    this.#malformed++
    if (this.#malformed === 1 || this.#malformed % 1000 === 0) {
      this.#host.log.warn({ malformed: this.#malformed, sample: sample.slice(0, 200) }, 'dropped a malformed message from the cluster')
    }
  }

  #handle(msg: ClusterMessage): void {
    const host = this.#host
    const self = host.self()
    switch (msg.type) {
      case 'publication': {
        const own = msg.origin === self?.id
        if (!own && self?.accepts?.(msg.pub) === false) return this.countMalformed(JSON.stringify(msg.pub))
        if (!own) this.#received++
        const delivered = host.sink()?.deliver(carriedPublication(msg)) ?? 0
        if (!own && msg.report !== undefined && self !== null) host.send(DIRECT_CHANNEL, deliveryReportMessage(self.id, msg.report, delivered))
        return
      }
      case 'delivery_report':
        host.reports.report(msg.id, msg.delivered)
        return
      case 'direct': {
        const found = host.sink()?.deliverDirect(msg.msg) === true
        if (self !== null) host.send(DIRECT_CHANNEL, directAckMessage(self.id, msg.msg.id, found))
        return
      }
      case 'direct_ack':
        host.acks.answer(msg.id, msg.found)
        return
      case 'heartbeat':
        // A newcomer hears from us at once instead of after a heartbeat period.
        if (host.view.heard(msg.origin, msg.connections)) host.beat()
        host.presence.heartbeat(msg.origin, msg.presence)
        host.peers()
        return
      case 'presence':
        host.presence.changes(msg.origin, msg.seq, msg.changes)
        return
      case 'presence_sync':
        host.presence.sync(msg.origin, msg.seq, msg.channels)
        return
      case 'presence_ask':
        host.presence.asked(msg.of)
        return
      case 'delivery':
        host.sink()?.receiveDelivery?.(msg.origin, msg.msg)
        return
      case 'leave':
        host.view.left(msg.origin)
        host.presence.drop(msg.origin)
        host.peers()
    }
  }
}
