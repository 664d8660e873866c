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
}

/**
 * The cluster layer of a worker without Redis: the primary relays (ipc-transport.ts), keeps history
 * (ipc-history.ts) and the record of pending tracked deliveries (ipc-pending.ts).
 */
export class IpcBroker extends ClusterBroker {
  constructor(opts: IpcBrokerOptions) {
    const pending = new IpcPending(opts.link, opts.expiryMs ?? 6000, opts.logger)
    super({ ...opts, transport: new IpcTransport(opts.link), history: new IpcHistory(opts.link), pending })
  }
}
