import type { Broker, BrokerSink, BrokerState, BrokerStats, DirectOutcome, PublishOutcome } from './broker.js'
import type { DirectMessage, Publication } from '../protocol/messages.js'
import type { HistoryStore } from './history-store.js'
import { MemoryHistory } from './memory-history.js'
import type { HistoryOptions, HistoryPage } from './position.js'

/** The default broker: one process, delivery straight back into the server; history in a ring per channel. */
export class MemoryBroker implements Broker {
  readonly kind = 'memory'
  readonly #history: HistoryStore = new MemoryHistory()
  #sink: BrokerSink | null = null
  #state: BrokerState = 'standalone'
  #published = 0

  get state(): BrokerState {
    return this.#state
  }

  async start(sink: BrokerSink): Promise<void> {
    this.#sink = sink
    this.#state = 'standalone'
    this.#history.open()
  }

  async publish(pub: Publication, history: HistoryOptions | null): Promise<PublishOutcome> {
    this.#published++
    // Stored and delivered in the same turn (the memory store answers at once): nothing can come between the two.
    const appended = history === null ? null : this.#history.appendAndPublish(pub, history, null)
    const position = appended === null ? null : 'position' in appended ? appended.position : (await appended).position
    const stored = position === null ? pub : { ...pub, position }
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
    this.#history.close()
    this.#sink = null
  }
}
