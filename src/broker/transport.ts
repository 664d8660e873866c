import type { BrokerTopology } from './broker.js'

/**
 * What a transport tells the cluster layer. A transport may have one connection or two (Redis:
 * one publishing, one subscribed); `send` is the side that publishes, `receive` the side that
 * holds the subscriptions.
 */
export interface TransportEvents {
  /** A message arrived on a subscribed channel: bytes only, the cluster layer decodes them. */
  message(bytes: string): void
  /** The sending side is (again) connected: publishes go out. */
  sendReady(): void
  /** The receiving side is (again) connected, holding no subscription: subscribe everything again. */
  receiveReady(): void
  /** A side went away (the receiving side's subscriptions with it). */
  lost(side: 'send' | 'receive'): void
}

/**
 * Moves bytes between the instances of one service, and nothing else: the message union, the
 * echo filter, heartbeats, direct sends, delivery reports and handover are the cluster layer's
 * (cluster-broker.ts). Channels are named by the cluster layer (cluster-channels.ts); a
 * transport maps each name to its own, under the service's name, so services sharing one
 * transport never hear each other. One file per transport: memory-transport.ts,
 * redis-transport.ts.
 */
export interface Transport {
  /** `memory`, `redis`, … (the broker's `kind` in /stats). */
  readonly kind: string
  /** No cluster to reach (one process): the cluster layer sends nothing and subscribes nothing. */
  readonly standalone: boolean
  /** Whether a publish can go out now (the sending side is connected). */
  readonly ready: boolean
  /** Where it connects, for logs, without secrets. */
  readonly address: string
  /** The last connection error seen, for logs; null when none. */
  readonly lastError: string | null
  /**
   * Connects as `name` (for the other side's client list) to the channels of `service`. Resolves
   * true once every connection is up, false at the first refused attempt; it goes on retrying
   * in the background and reports through `events`. Rejects only when the configuration
   * itself is wrong (a node list that is no cluster): a boot error, not an outage.
   */
  open(service: string, name: string, events: TransportEvents): Promise<boolean>
  /**
   * Sends `bytes` on `channel`. Resolves with the number of subscribers it reached, this
   * instance included when it subscribes the channel (it then hears its own echo); rejects when
   * it could not be sent (not connected). Messages published by one instance keep their order.
   */
  publish(channel: string, bytes: string): Promise<number>
  /** Subscribes the channels; resolves once the transport confirmed them, rejects when it could not. */
  subscribe(channels: readonly string[]): Promise<void>
  /** Subscribes every room channel of the service at once (a pattern where the transport has them). */
  subscribeEveryRoom(): Promise<void>
  /** Drops what subscribeEveryRoom subscribed; rooms subscribed one by one stay. */
  unsubscribeEveryRoom(): Promise<void>
  unsubscribe(channel: string): Promise<void>
  /** The cluster's shape, for transports over a cluster of servers (Redis Cluster). */
  topology?(): BrokerTopology
  /** Sends `last` when it can (the leave message), then disconnects for good. */
  close(last: { readonly channel: string; readonly bytes: string } | null): Promise<void>
}
