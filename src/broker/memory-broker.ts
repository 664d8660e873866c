import type { Broker, BrokerSink, BrokerState, BrokerStats, DirectOutcome, PublishOutcome } from './broker.js'
import type { DirectMessage, Publication } from '../protocol/messages.js'
import { MemoryHistory } from './memory-history.js'
import type { HistoryOptions, HistoryPage } from './position.js'

/** How often expired history streams are swept. */
const SWEEP_MS = 1000

/** The default broker: one process, delivery straight back into the server; history in a ring per channel. */
export class MemoryBroker implements Broker {
  readonly kind = 'memory'
  readonly #history = new MemoryHistory()
  #sweep: NodeJS.Timeout | null = null
  #sink: BrokerSink | null = null
  #state: BrokerState = 'standalone'
  #published = 0

  get state(): BrokerState {
    return this.#state
  }

  async start(sink: BrokerSink): Promise<void> {
    this.#sink = sink
    this.#state = 'standalone'
    this.#sweep = setInterval(() => this.#history.sweep(), SWEEP_MS)
    this.#sweep.unref()
  }

  async publish(pub: Publication, history: HistoryOptions | null): Promise<PublishOutcome> {
    this.#published++
    // Stored and delivered in the same turn: nothing can come between the two.
    const stored = history === null ? pub : this.#history.append(pub, history)
    return { pub: stored, local: this.#sink?.deliver(stored) ?? 0, instances: 0, remote: 0 }
  }

  async history(channel: string, after: number | null, opts: HistoryOptions): Promise<HistoryPage> {
    return this.#history.read(channel, after, opts)
  }

  sendDirect(msg: DirectMessage): DirectOutcome {
    return this.#sink?.deliverDirect(msg) === true ? 'local' : 'unknown'
  }

  /** One process: no other instance to tell. */
  sendDelivery(): void {}

  roomActive(): void {}
  roomIdle(): void {}

  whenSubscribed(): null {
    return null
  }

  stats(): BrokerStats {
    return {
      state: this.#state,
      kind: this.kind,
      instances: 1,
      published: this.#published,
      received: 0,
      malformed: 0,
      dropped: 0,
      refused: 0,
      clusterConnections: null,
    }
  }

  async close(): Promise<void> {
    this.#state = 'closed'
    if (this.#sweep !== null) clearInterval(this.#sweep)
    this.#history.clear()
    this.#sink = null
  }
}
