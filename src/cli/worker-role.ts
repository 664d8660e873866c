import cluster from 'node:cluster'
import type { Logger } from 'pino'
import { AggregatorRegistry } from 'prom-client'
import type { Broker } from '../broker/broker.js'
import { createBroker } from '../broker/create-broker.js'
import { IpcBroker } from '../broker/ipc-broker.js'
import { IpcLink } from '../broker/ipc-link.js'
import type { Settings } from '../config/settings.js'
import { MetricsPlugin } from '../metrics/metrics-plugin.js'
import type { Gathered, WorkerGroup } from '../server/worker-group.js'
import { isWorkerMessage, WORKER_READY, WORKER_STOP } from './primary.js'
import { sharedStateOver } from './shared-state.js'
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

  /** The broker of a worker: Redis (one server or a Redis Cluster) when the settings name one, else the primary's ipc relay. */
  broker(settings: Settings, logger: Logger): Broker {
    const redis = settings.redis.url !== null || settings.redis.cluster !== null
    return redis ? createBroker(settings.redis, logger) : new IpcBroker({ link: this.#link, logger, mesh: process.env.ROOMCAST_WORKERS_MESH !== 'off' })
  }

  /**
   * The metrics of a worker: its own registry is what the primary's aggregator collects
   * (prom-client's cluster messages), and its `/metrics` answers with every worker's summed.
   */
  metrics(): MetricsPlugin {
    const plugin = new MetricsPlugin({ cluster: async () => String(await this.#link.ask({ op: 'call', name: 'metrics', arg: null })) })
    // Constructing one installs prom-client's worker listener; the registries are this worker's.
    new AggregatorRegistry()
    AggregatorRegistry.setRegistries([plugin.registry])
    return plugin
  }

  /**
   * The other workers as the server sees them (ServerOptions.workers): its status views gather
   * every worker's answer through the primary, and its services share the primary's state.
   */
  group(): WorkerGroup {
    const link = this.#link
    return {
      self: { id: cluster.worker?.id ?? 0, pid: process.pid },
      gather: async (name) => (await link.ask({ op: 'call', name: 'gather', arg: { name } })) as Gathered,
      answer: (name, handler) => link.answer(name, handler),
      state: sharedStateOver((op) => link.ask({ op: 'call', name: 'state', arg: op })),
    }
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
