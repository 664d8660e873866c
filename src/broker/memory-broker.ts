import { ClusterBroker, type ClusterTimings } from './cluster-broker.js'
import { MemoryHistory } from './memory-history.js'
import { type MemoryBus, MemoryTransport } from './memory-transport.js'
import type { Logger } from 'pino'

export interface MemoryBrokerOptions extends ClusterTimings {
  /** Instances sharing this bus (and `history`) form a cluster in one process; without one the broker is standalone. */
  readonly bus?: MemoryBus
  /** The streams: shared by the instances of one bus, one per instance otherwise. */
  readonly history?: MemoryHistory
  readonly logger?: Logger
}

/**
 * The default broker: one process, delivery straight back into the server, history in a ring per
 * channel (memory-history.ts). On a `MemoryBus`, instances in one process form a cluster.
 */
export class MemoryBroker extends ClusterBroker {
  constructor(opts: MemoryBrokerOptions = {}) {
    super({ ...opts, transport: new MemoryTransport(opts.bus), history: opts.history ?? new MemoryHistory() })
  }
}
