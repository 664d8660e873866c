import { ClusterBroker, type ClusterTimings } from './cluster-broker.js'
import { IpcHistory } from './ipc-history.js'
import { IpcPending } from './ipc-pending.js'
import type { IpcLink } from './ipc-link.js'
import { IpcTransport } from './ipc-transport.js'
import type { Logger } from 'pino'

export interface IpcBrokerOptions extends ClusterTimings {
  /** The worker's IPC channel to its primary. */
  readonly link: IpcLink
  readonly logger?: Logger
  /** Room publications go from worker to worker directly (ipc-mesh.ts); false: all through the primary. @default true */
  readonly mesh?: boolean
}

/**
 * The cluster layer of a worker without Redis: room publications go to the other workers directly
 * (ipc-mesh.ts); the primary keeps the directory, relays the rest (ipc-transport.ts), keeps history
 * (ipc-history.ts) and the record of pending tracked deliveries (ipc-pending.ts).
 */
export class IpcBroker extends ClusterBroker {
  constructor(opts: IpcBrokerOptions) {
    const pending = new IpcPending(opts.link, opts.expiryMs ?? 6000, opts.logger)
    const transport = new IpcTransport(opts.link, opts.mesh === false ? null : { log: opts.logger })
    pending.publishVia((channel, bytes) => transport.publish(channel, bytes))
    super({ ...opts, transport, history: new IpcHistory(opts.link), pending })
  }
}
