import { ClusterBroker, type ClusterTimings } from './cluster-broker.js'
import { RedisClusterTransport, type RedisClusterTransportOptions } from './redis-cluster-transport.js'
import { RedisHistory } from './redis-history.js'
import { RedisPending } from './redis-pending.js'

export interface RedisClusterBrokerOptions extends RedisClusterTransportOptions, ClusterTimings {
  /** How long a history publish or read waits for the cluster before it is refused (BROKER_UNAVAILABLE). @default 2000 ms */
  readonly historyTimeoutMs?: number
}

/**
 * The cluster layer over Redis Cluster: sharded pub/sub between the instances
 * (redis-cluster-transport.ts), history in Redis streams whose keys share their room channel's
 * hash tag, so one script on one shard stores a publication and SPUBLISHes it.
 */
export class RedisClusterBroker extends ClusterBroker {
  constructor(opts: RedisClusterBrokerOptions) {
    const transport = new RedisClusterTransport({ ...opts, logger: opts.logger?.child({ bridge: 'redis-cluster' }) })
    const history = new RedisHistory({
      connection: () => transport.connection,
      names: () => transport.names,
      timeoutMs: opts.historyTimeoutMs ?? 2000,
      publishCommand: 'spublish',
    })
    const pending = new RedisPending({
      connection: () => transport.connection,
      names: () => transport.names,
      leaseMs: opts.expiryMs ?? 6000,
      sharded: true, publishCommand: 'spublish',
      logger: opts.logger,
    })
    super({ ...opts, transport, history, pending })
  }
}
