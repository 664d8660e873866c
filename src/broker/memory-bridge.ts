import type { Bridge, BridgeSink, BridgeState, BridgeStats, DirectOutcome } from './bridge.js'
import type { DirectMessage, Publication } from '../protocol/messages.js'

/** The default bridge: one process, delivery straight back into the server. */
export class MemoryBridge implements Bridge {
  readonly kind = 'memory'
  #sink: BridgeSink | null = null
  #state: BridgeState = 'standalone'
  #published = 0

  get state(): BridgeState {
    return this.#state
  }

  async start(sink: BridgeSink): Promise<void> {
    this.#sink = sink
    this.#state = 'standalone'
  }

  publish(pub: Publication): number {
    this.#published++
    return this.#sink?.deliver(pub) ?? 0
  }

  sendDirect(msg: DirectMessage): DirectOutcome {
    return this.#sink?.deliverDirect(msg) === true ? 'local' : 'unknown'
  }

  roomActive(): void {}
  roomIdle(): void {}

  whenSubscribed(): null {
    return null
  }

  stats(): BridgeStats {
    return {
      state: this.#state,
      kind: this.kind,
      instances: 1,
      published: this.#published,
      received: 0,
      malformed: 0,
      dropped: 0,
      clusterConnections: null,
    }
  }

  async close(): Promise<void> {
    this.#state = 'closed'
    this.#sink = null
  }
}
