import type { Logger } from 'pino'
import type { BrokerState } from './broker.js'
import type { Transport, TransportEvents } from './transport.js'

/** What the link state asks of the cluster layer, and tells it. */
export interface ClusterLinkHost {
  /** Whether the receiving side has resubscribed since it last connected. */
  subscribed(): boolean
  /** Every state change, after it happened. */
  changed(state: BrokerState): void
}

/**
 * The broker's state, from its transport: `standalone` when the transport has no cluster;
 * otherwise `connecting` until start() gives up waiting, then `connected` while the transport
 * can send and its receiving side has resubscribed, `degraded` while it cannot, `closed` for good.
 */
export class ClusterLink {
  readonly #transport: Transport
  readonly #log: Logger
  readonly #host: ClusterLinkHost
  #state: BrokerState
  #starting = true
  #onConnected: (() => void) | null = null

  constructor(transport: Transport, log: Logger, host: ClusterLinkHost) {
    this.#transport = transport
    this.#log = log
    this.#host = host
    this.#state = transport.standalone ? 'standalone' : 'connecting'
  }

  get state(): BrokerState {
    return this.#state
  }

  /**
   * Opens the transport. Resolves once connected, at the first refused attempt, or after
   * `startTimeoutMs`: then the instance runs standalone (degraded) while the transport retries.
   */
  async open(service: string, name: string, startTimeoutMs: number, events: TransportEvents): Promise<void> {
    const connected = new Promise<void>((resolve) => {
      this.#onConnected = resolve
      setTimeout(resolve, startTimeoutMs).unref()
    }).finally(() => {
      this.#onConnected = null
    })
    // Every connection up: wait for the resubscribe too (bounded); a refused attempt: stop waiting.
    const opened = this.#transport.open(service, name, events).then((up) => (up ? connected : undefined))
    await Promise.race([connected, opened])
    this.#starting = false
    this.refresh()
    if (this.#state !== 'connected') {
      const { kind, address, lastError } = this.#transport
      this.#log.warn({ address, error: lastError }, `${kind} unreachable at start: running standalone (bridge degraded) until it is back`)
    }
  }

  /** Recomputes the state from the transport (no change when standalone or closed). */
  refresh(): void {
    if (this.#state === 'closed' || this.#state === 'standalone') return
    const up = this.#transport.ready && this.#host.subscribed()
    this.#setState(up ? 'connected' : this.#starting ? 'connecting' : 'degraded')
  }

  /** Marks the link closed for good; false when it already was. */
  shut(): boolean {
    if (this.#state === 'closed') return false
    this.#setState('closed')
    return true
  }

  #setState(next: BrokerState): void {
    const prev = this.#state
    if (prev === next) return
    this.#state = next
    const kind = this.#transport.kind
    if (prev === 'connected' && next === 'degraded') this.#log.warn({ error: this.#transport.lastError }, `${kind} connection lost: delivering to local clients only`)
    if (prev === 'degraded' && next === 'connected') this.#log.info(`${kind} is back: cluster delivery resumed`)
    this.#host.changed(next)
    if (next === 'connected') this.#onConnected?.()
  }
}
