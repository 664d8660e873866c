import cluster, { type Worker } from 'node:cluster'
import type { Logger } from 'pino'
import { AggregatorRegistry } from 'prom-client'
import { z } from 'zod'
import { IpcHub } from '../broker/ipc-hub.js'
import { PENDING_CALL, PrimaryPending } from '../broker/ipc-pending.js'
import type { Gathered, WorkerAnswer } from '../server/worker-group.js'
import { PrimaryState } from './shared-state.js'
import type { StopSignals } from './stop-signals.js'

/** What a worker tells its primary, beside the cluster layer's requests (ipc-messages.ts). */
export const WORKER_READY = { roomcast_worker: 'ready' } as const
/** What the primary tells a worker to drain and exit. */
export const WORKER_STOP = { roomcast_worker: 'stop' } as const

export function isWorkerMessage(raw: unknown, what: typeof WORKER_READY | typeof WORKER_STOP): boolean {
  return typeof raw === 'object' && raw !== null && (raw as Record<string, unknown>).roomcast_worker === what.roomcast_worker
}

export interface PrimaryOptions {
  readonly service: string
  readonly workers: number
  /** `round-robin`: this process accepts and hands each connection to the next worker; `shared`: the workers accept from the shared socket. */
  readonly accept: 'round-robin' | 'shared'
  /** Seconds a worker may take to drain (the service's drain_timeout); the primary waits a little more. */
  readonly drainSeconds: number
  readonly logger: Logger
  readonly stop: StopSignals
}

/** Longest wait before restarting a worker that keeps dying. */
const MAX_BACKOFF_MS = 10_000
/** A worker that lived this long resets the backoff. */
const STABLE_MS = 30_000
/**
 * How long the primary waits for each worker's answer to a gather (a status view waits this long
 * at most; the workers are asked at once). Shorter than every caller's timeout — the dashboard's
 * 1.5 s poll, `roomcast status`'s 5 s — so that a hung worker is shown `unreachable` instead of
 * the whole answer timing out (docs/scaling.md).
 */
export const GATHER_TIMEOUT_MS = 1_000

const GatherSchema = z.object({ name: z.string().min(1).max(64) })

/**
 * `roomcast serve <service>` with `workers: N > 1`: this process owns the port (node:cluster,
 * round-robin accept; Node 20 has no reusePort) and runs N workers, each a whole instance of the
 * service; it relays their cluster messages and keeps their history (IpcHub). Every worker must
 * start: one that exits before listening ends the primary non-zero. A worker that dies later is
 * restarted with backoff. A stop drains every worker (clients get 1001) and exits 0. Workers exit
 * when the primary's IPC channel closes, so a killed primary leaves no orphans.
 */
export async function runPrimary(opts: PrimaryOptions): Promise<number> {
  const { logger: log, service } = opts
  // Before the first fork: node:cluster reads it when the first worker listens.
  cluster.schedulingPolicy = opts.accept === 'shared' ? cluster.SCHED_NONE : cluster.SCHED_RR
  const hub = new IpcHub()
  // GET /metrics on any worker: every worker's registry, summed (prom-client asks them over IPC).
  const metrics = new AggregatorRegistry()
  hub.handle('metrics', () => metrics.clusterMetrics())
  const started = new Map<Worker, number>()
  // /health, /stats, /ws/info and the MCP tools on any worker: every listening worker's answer.
  // The asking worker is listed without a value: it has its own answer at hand.
  hub.handle('gather', async (arg, from): Promise<Gathered> => {
    const { name } = GatherSchema.parse(arg)
    const ask = async (w: Worker): Promise<WorkerAnswer> => {
      const who = { id: w.id, pid: w.process.pid ?? 0 }
      if (w === from) return who
      try {
        return { ...who, value: await hub.ask(w, name, null, GATHER_TIMEOUT_MS) }
      } catch (err) {
        return { ...who, error: (err as Error).message }
      }
    }
    const workers = await Promise.all([...started.keys()].sort((a, b) => a.id - b.id).map(ask))
    return { pid: process.pid, uptime: process.uptime(), workers }
  })
  // Without Redis, what instances would share there (the context service's lock, figures, kept subscriptions).
  const state = new PrimaryState()
  hub.handle('state', (arg) => state.apply(arg))
  // Without Redis, the record of pending tracked deliveries: a dead worker's agents get theirs on another worker.
  const pending = new PrimaryPending()
  hub.handle(PENDING_CALL, (arg, from) => pending.apply(arg, from))
  let failures = 0
  let stopping = false
  let failed: string | null = null
  const exits: Promise<void>[] = []

  const fork = (): Promise<void> => {
    const worker = cluster.fork()
    hub.attach(worker)
    const ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (raw: unknown) => {
        if (!isWorkerMessage(raw, WORKER_READY)) return
        started.set(worker, Date.now())
        resolve()
      })
      worker.once('exit', (code, signal) => reject(new Error(`worker ${worker.id} exited (${signal ?? code}) before listening`)))
    })
    const exit = new Promise<void>((resolve) => {
      worker.once('exit', (code, signal) => {
        hub.detach(worker)
        pending.gone(worker)
        const since = started.get(worker)
        started.delete(worker)
        resolve()
        if (stopping || since === undefined) return
        failures = Date.now() - since > STABLE_MS ? 0 : failures + 1
        const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** failures)
        log.warn({ worker: worker.id, code, signal, restart_in_ms: delay }, 'worker died: restarting it')
        setTimeout(() => {
          if (!stopping) fork().catch((err: unknown) => log.error({ err }, 'restarted worker failed to start'))
        }, delay)
      })
    })
    exits.push(exit)
    return ready
  }

  log.info({ service, workers: opts.workers, accept: opts.accept }, 'starting workers')
  const readies = Array.from({ length: opts.workers }, () => fork())
  const allReady = Promise.all(readies).then(
    () => {},
    (err: unknown) => {
      // A worker ended by the same stop (a signal to the whole process group) did not fail.
      if (!opts.stop.stopping) failed = (err as Error).message
    },
  )
  await Promise.race([allReady, opts.stop.requested])
  if (failed === null && !opts.stop.stopping) log.info({ service, workers: opts.workers }, 'every worker listening')
  else if (failed !== null) log.error({ service, reason: failed }, 'a worker could not start: stopping every worker')
  if (failed === null) await opts.stop.requested
  stopping = true
  await stopWorkers(opts.drainSeconds, exits)
  hub.close()
  if (failed !== null) {
    console.error(`roomcast: cannot start ${service}: ${failed}; not serving with fewer workers`)
    return 1
  }
  return 0
}

/** Asks every worker to drain; kills those still running after the drain bound and a margin. */
async function stopWorkers(drainSeconds: number, exits: readonly Promise<void>[]): Promise<void> {
  for (const w of Object.values(cluster.workers ?? {})) if (w?.isConnected() === true) w.send(WORKER_STOP, undefined, undefined, () => {})
  const timer = setTimeout(() => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL')
  }, drainSeconds * 1000 + 5000)
  await Promise.all(exits)
  clearTimeout(timer)
}
