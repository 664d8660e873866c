import type { FastifyInstance } from 'fastify'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { BrokerState } from '../broker/broker.js'
import type { ServerPlugin } from '../server/plugin.js'
import type { BroadcastObserver } from '../server/stats.js'
import type { ServerView } from '../server/server-view.js'

const BROKER_STATES: readonly BrokerState[] = ['standalone', 'connecting', 'connected', 'degraded', 'closed']

/** Sets a counter to a total the server already keeps (read at scrape time, never on the hot path). */
function setTotal(counter: Counter, value: number): void {
  counter.reset()
  counter.inc(value)
}

function setTotals(counter: Counter<'type'> | Counter<'code'>, label: 'type' | 'code', values: ReadonlyMap<string, number>): void {
  counter.reset()
  for (const [key, n] of values) (counter as Counter<string>).inc({ [label]: key }, n)
}

/**
 * Prometheus metrics of one server on `GET /metrics`, in a registry of its own (several services
 * may share a process). Counters are read from ServerStats when scraped; only the broadcast
 * histograms are fed as traffic flows, once per broadcast, never per delivered frame.
 */
export class MetricsPlugin implements ServerPlugin, BroadcastObserver {
  readonly name = 'metrics'
  readonly registry = new Registry()
  readonly #fanout: Histogram
  readonly #duration: Histogram

  readonly #cluster: (() => Promise<string>) | null

  /** `cluster`: the text of every worker's metrics summed (a worker of `workers: N`); default this registry's. */
  constructor(opts: { readonly cluster?: () => Promise<string> } = {}) {
    this.#cluster = opts.cluster ?? null
    this.#fanout = new Histogram({
      name: 'roomcast_broadcast_fanout',
      help: 'Local subscribers a broadcast was sent to.',
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000],
      registers: [this.registry],
    })
    this.#duration = new Histogram({
      name: 'roomcast_broadcast_duration_seconds',
      help: 'Time to encode a broadcast once and queue it to every local subscriber.',
      buckets: [0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1],
      registers: [this.registry],
    })
  }

  onBroadcast(_channel: string, recipients: number, seconds: number): void {
    this.#fanout.observe(recipients)
    this.#duration.observe(seconds)
  }

  setup(server: ServerView, app: FastifyInstance): void {
    this.registry.setDefaultLabels({ service: server.name })
    this.#registerTraffic(server)
    this.#registerBroker(server)
    this.#registerDelivery(server)
    server.broadcastObserver = this
    app.get('/metrics', async (_req, reply) => {
      const text = this.#cluster === null ? await this.registry.metrics() : await this.#cluster()
      return reply.header('content-type', this.registry.contentType).send(text)
    })
  }

  /** Metric names this plugin registers (docs/metrics.md lists exactly these). */
  metricNames(): string[] {
    return this.registry.getMetricsAsArray().map((m) => m.name)
  }

  /** A counter or gauge whose value is read from the server when scraped. */
  #scraped(kind: 'counter' | 'gauge', name: string, help: string, read: () => number): void {
    const registers = [this.registry]
    if (kind === 'counter') new Counter({ name, help, registers, collect() { setTotal(this, read()) } })
    else new Gauge({ name, help, registers, collect() { this.set(read()) } })
  }

  #registerTraffic(server: ServerView): void {
    const registers = [this.registry]
    const stats = server.stats
    const counter = (name: string, help: string, read: () => number) => this.#scraped('counter', name, help, read)
    const gauge = (name: string, help: string, read: () => number) => this.#scraped('gauge', name, help, read)

    gauge('roomcast_connections', 'Connections open now.', () => server.connectionCount)
    counter('roomcast_connections_total', 'Connections admitted since start.', () => stats.connectionsTotal)
    counter('roomcast_connections_rejected_total', 'Connections closed with 1013 because max_connections was reached.', () => stats.rejectedAtCapacity)
    counter('roomcast_connections_rejected_per_ip_total', 'Upgrades answered 429 before the handshake because their client address held max_connections_per_ip.', () => stats.rejectedPerIp)
    gauge('roomcast_rooms', 'Channels with at least one local subscriber.', () => server.roomCount)
    new Counter({
      name: 'roomcast_messages_in_total',
      help: 'Frames received, by decoded type or request operation.',
      labelNames: ['type'],
      registers,
      collect() { setTotals(this, 'type', stats.inByType) },
    })
    new Counter({
      name: 'roomcast_messages_out_total',
      help: 'Frames sent, by type (event, response, error, pong, welcome).',
      labelNames: ['type'],
      registers,
      collect() { setTotals(this, 'type', stats.outByType) },
    })
    counter('roomcast_broadcasts_total', 'Publications delivered to at least one local subscriber.', () => stats.broadcasts)
    counter('roomcast_deliveries_total', 'Event frames queued to local subscribers by broadcasts.', () => stats.deliveries)
    new Counter({
      name: 'roomcast_errors_total',
      help: 'Error frames sent, by error code.',
      labelNames: ['code'],
      registers,
      collect() { setTotals(this, 'code', stats.errorsByCode) },
    })
    counter('roomcast_rate_limited_total', 'Frames dropped by the per-connection rate limit.', () => stats.rateLimited)
    counter('roomcast_slow_consumer_closes_total', 'Connections cut as slow consumers (4008) because their outbound buffer was full.', () => stats.slowConsumerCloses)
    counter('roomcast_heartbeat_timeouts_total', 'Connections terminated for not answering a ping in time.', () => stats.heartbeatTimeouts)
    counter('roomcast_token_expired_closes_total', 'Connections closed 4001 because their token expired unrefreshed.', () => stats.tokenExpiredCloses)
    gauge('roomcast_uptime_seconds', 'Seconds since the server started.', () => server.uptime)
  }

  /** Tracked deliveries (docs/protocol.md A.8), read from the tracker's counters when scraped. */
  #registerDelivery(server: ServerView): void {
    const d = () => server.delivery.stats()
    const counter = (name: string, help: string, read: () => number) => this.#scraped('counter', name, help, read)
    this.#scraped('gauge', 'roomcast_delivery_pending', 'Tracked events sent and not yet acknowledged nor failed.', () => d().pending)
    this.#scraped('gauge', 'roomcast_delivery_pending_bytes', 'Bytes of the distinct frames pending tracked events hold.', () => d().pendingBytes)
    counter('roomcast_delivery_tracked_total', 'Tracked events sent to a recipient and tracked until acknowledged.', () => d().tracked)
    counter('roomcast_delivery_acked_total', 'Tracked events acknowledged by their recipient.', () => d().acked)
    counter('roomcast_delivery_resent_total', 'Tracked events sent again: retries, and pending events sent to a new connection.', () => d().resent)
    counter('roomcast_delivery_failed_total', 'Tracked events never acknowledged after max_attempts (or whose anonymous connection closed).', () => d().failed)
    counter('roomcast_delivery_overflow_total', 'Tracked events sent once without tracking because a delivery bound was reached.', () => d().overflow)
    counter('roomcast_delivery_unknown_acks_total', 'Acks naming no event pending for that connection (unknown, foreign or already settled ids).', () => d().unknownAcks)
    counter('roomcast_delivery_handed_over_total', 'Pending events handed to another instance where their recipient reconnected.', () => d().handedOver)
    counter('roomcast_delivery_adopted_total', 'Pending events taken over from another instance.', () => d().adopted)
  }

  #registerBroker(server: ServerView): void {
    new Gauge({
      name: 'roomcast_bridge_state',
      help: 'Cluster bridge state: 1 for the current state, 0 for the others.',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const now = server.broker.state
        for (const s of BROKER_STATES) this.set({ state: s }, s === now ? 1 : 0)
      },
    })
    const counter = (name: string, help: string, read: () => number) => this.#scraped('counter', name, help, read)
    this.#scraped('gauge', 'roomcast_bridge_instances', 'Live instances of this service known to the bridge (1 when standalone).', () => server.broker.stats().instances)
    counter('roomcast_bridge_published_total', 'Publications this instance sent through the bridge.', () => server.broker.stats().published)
    counter('roomcast_bridge_received_total', 'Publications received from other instances.', () => server.broker.stats().received)
    counter('roomcast_bridge_malformed_total', 'Messages from the bridge that failed validation and were dropped.', () => server.broker.stats().malformed)
  }
}
