import { ClusterBroker, type ClusterTimings } from './cluster-broker.js'
import { RedisHistory } from './redis-history.js'
import { RedisPending } from './redis-pending.js'
import { RedisTransport, type RedisTransportOptions } from './redis-transport.js'

export interface RedisBrokerOptions extends RedisTransportOptions, ClusterTimings {
  /** How long a history publish or read waits for Redis before it is refused (BROKER_UNAVAILABLE). @default 2000 ms */
  readonly historyTimeoutMs?: number
}

/**
 * The cluster layer over Redis: pub/sub between the instances (redis-transport.ts), history in
 * Redis streams, stored and published by one script (redis-history.ts).
 */
export class RedisBroker extends ClusterBroker {
  constructor(opts: RedisBrokerOptions) {
    const transport = new RedisTransport({ ...opts, logger: opts.logger?.child({ bridge: 'redis' }) })
    const history = new RedisHistory({ connection: () => transport.connection, names: () => transport.names, timeoutMs: opts.historyTimeoutMs ?? 2000 })
    const pending = new RedisPending({
      connection: () => transport.connection,
      names: () => transport.names,
      leaseMs: opts.expiryMs ?? 6000,
      sharded: false, publishCommand: 'publish',
      logger: opts.logger,
    })
    super({ ...opts, transport, history, pending })
  }
}
