import cluster from 'node:cluster'
import type { Logger } from 'pino'
import type { Broker } from '../broker/broker.js'
import { createBroker } from '../broker/create-broker.js'
import { IpcBroker } from '../broker/ipc-broker.js'
import { IpcLink } from '../broker/ipc-link.js'
import type { Settings } from '../config/settings.js'
import { isWorkerMessage, WORKER_READY, WORKER_STOP } from './primary.js'
import type { StopSignals } from './stop-signals.js'

/**
 * This process as one worker of `roomcast serve <service>` with `workers: N > 1` (primary.ts):
 * the service's broker reaches the other workers through the primary (ipc) or over Redis, each
 * worker with its own connections; it drains and exits when the primary asks or goes away.
 */
export class WorkerRole {
  readonly #link = new IpcLink(process)

  constructor(stop: StopSignals) {
    process.on('message', (raw: unknown) => {
      if (isWorkerMessage(raw, WORKER_STOP)) stop.request('asked by the primary')
    })
    // The primary is gone (killed): no orphan keeps serving. (node's cluster code exits the worker on
    // this event too, unless the worker itself disconnected: see done().)
    process.on('disconnect', () => stop.request('the primary is gone'))
  }

  /** The broker of a worker: Redis when the settings name one, else the primary's ipc relay. */
  broker(settings: Settings, logger: Logger): Broker {
    return settings.redis.url === null ? new IpcBroker({ link: this.#link, logger }) : createBroker(settings.redis, logger)
  }

  /** Tells the primary this worker listens. */
  ready(): void {
    process.send?.(WORKER_READY)
  }

  /**
   * Lets go of the primary's channel with `code` as the exit code: through the cluster worker, so
   * node's own handler does not read the disconnect as an orphaned worker and exit 0 at once.
   */
  done(code: number): void {
    process.exitCode = code
    if (process.connected) cluster.worker?.disconnect()
  }
}
