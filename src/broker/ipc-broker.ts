import { ClusterBroker, type ClusterTimings } from './cluster-broker.js'
import { IpcHistory } from './ipc-history.js'
import type { IpcLink } from './ipc-link.js'
import { IpcTransport } from './ipc-transport.js'
import type { Logger } from 'pino'

export interface IpcBrokerOptions extends ClusterTimings {
  /** The worker's IPC channel to its primary. */
  readonly link: IpcLink
  readonly logger?: Logger
}

/** The cluster layer of a worker without Redis: the primary relays (ipc-transport.ts) and keeps history (ipc-history.ts). */
export class IpcBroker extends ClusterBroker {
  constructor(opts: IpcBrokerOptions) {
    super({ ...opts, transport: new IpcTransport(opts.link), history: new IpcHistory(opts.link) })
  }
}
