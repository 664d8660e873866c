import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { FiguresExchange, InstanceFigures } from './cluster-figures.js'
import { EVENT_FAMILIES } from './events.js'
import { RateWindow } from './rate-window.js'

/** The data of one `metric.update` (docs/protocol.md B), plus the publishing instance. */
export interface MetricSnapshot {
  active_sessions: number
  active_agents: number
  connected_clients: number
  actions_per_minute: number
  events_per_minute: Record<string, number>
  pending_deliveries: number
  failed_deliveries: number
  instances: number
  timestamp: string
  publisher: string
}

export interface MetricsInputs {
  /** This instance's own figures, read at each tick. */
  local(): Omit<InstanceFigures, 'v' | 'instance'>
  /** Agents connected anywhere in the cluster, as this instance sees it (the truth agent.connected comes from). */
  activeAgents?(): number
  /** Publishes the snapshot on `metrics` (reaching every instance's subscribers). */
  publish(snapshot: MetricSnapshot): void
}

/** Sums every instance's figures; agents and sessions are counted once across instances. */
export function mergeFigures(all: readonly InstanceFigures[]) {
  const agents = new Set<string>()
  const sessions = new Set<string>()
  let clients = 0
  let pending = 0
  let failed = 0
  for (const f of all) {
    for (const a of f.agents) agents.add(a)
    for (const s of f.sessions) sessions.add(s)
    clients += f.connected_clients
    pending += f.pending_deliveries
    failed += f.failed_deliveries
  }
  return { active_agents: agents.size, active_sessions: sessions.size, connected_clients: clients, pending_deliveries: pending, failed_deliveries: failed, instances: all.length }
}

/**
 * Publishes one `metric.update` per cluster every `metrics_interval`: each instance reports its
 * figures at every tick; the one holding the lock merges them and publishes. Every instance
 * observes every publication, so the publisher's own window of the last minute is the
 * cluster's. Emits `published` with each snapshot.
 */
export class MetricsPublisher extends EventEmitter {
  readonly window = new RateWindow(EVENT_FAMILIES)
  readonly #exchange: FiguresExchange
  readonly #inputs: MetricsInputs
  readonly #intervalMs: number
  readonly #instanceId: string
  readonly #log: Logger
  #timer: NodeJS.Timeout | null = null
  #busy = false
  #failures = 0
  published = 0

  constructor(exchange: FiguresExchange, inputs: MetricsInputs, options: { intervalSeconds: number; instanceId: string; log: Logger }) {
    super()
    this.#exchange = exchange
    this.#inputs = inputs
    this.#intervalMs = options.intervalSeconds * 1000
    this.#instanceId = options.instanceId
    this.#log = options.log
  }

  /** Counts one publication in the last-minute figures. */
  count(event: string): void {
    const dot = event.indexOf('.')
    this.window.add(dot === -1 ? event : event.slice(0, dot))
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.tick(), this.#intervalMs)
  }

  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    await this.#exchange.leave().catch((err: unknown) => this.#log.warn({ err }, 'metrics: leaving the cluster figures failed'))
  }

  /** One round: report, and publish when holding the lock. A Redis failure skips the round, logged once per outage. */
  async tick(): Promise<boolean> {
    if (this.#busy) return false
    this.#busy = true
    try {
      // Every figure of this instance is read at one moment, before the exchange's round trips:
      // read after them, the last minute could count a publication of a client that the
      // reported connections did not count yet.
      const local = this.#inputs.local()
      const minute = this.window.lastMinute()
      const agents = this.#inputs.activeAgents?.()
      const held = await this.#exchange.report({ v: 1, instance: this.#instanceId, ...local })
      if (!held) return false
      const merged = mergeFigures(await this.#exchange.collect())
      const snapshot: MetricSnapshot = {
        ...merged,
        active_agents: agents ?? merged.active_agents,
        actions_per_minute: minute.total,
        events_per_minute: minute.byKey,
        timestamp: new Date().toISOString(),
        publisher: this.#instanceId,
      }
      this.#inputs.publish(snapshot)
      this.published++
      this.#failures = 0
      this.emit('published', snapshot)
      return true
    } catch (err) {
      if (this.#failures++ === 0) this.#log.warn({ err }, 'metrics: snapshot round failed (retrying each interval)')
      return false
    } finally {
      this.#busy = false
    }
  }
}
