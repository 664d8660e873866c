import type { BrokerStats } from '../broker/broker.js'
import type { JsonObject } from '../protocol/messages.js'
import { type ClientRow, type ClientsSnapshot, healthView, seconds, type StatusSnapshot, statsView, type WorkerStatus, workersView } from './status-model.js'
import type { Gathered, WorkerIdentity } from './worker-group.js'

/**
 * A service with `workers: N > 1` seen as one: every worker's snapshot (gathered by the primary)
 * merged into the whole service's, counters summed, each worker's own kept as the breakdown.
 * The answering worker does the merging; the primary only relays.
 */

type Json = JsonObject[string]

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Numbers summed key by key, nested objects too; for anything else the first value that has the key wins. */
export function sumFigures<T>(values: readonly T[]): T {
  const [first, ...rest] = values
  if (!isObject(first)) return first as T
  const out: Record<string, unknown> = { ...first }
  for (const v of rest) {
    if (!isObject(v)) continue
    for (const [k, x] of Object.entries(v)) {
      const mine = out[k]
      if (mine === undefined) out[k] = x
      else if (typeof mine === 'number' && typeof x === 'number') out[k] = mine + x
      else if (isObject(mine) && isObject(x)) out[k] = sumFigures([mine, x])
    }
  }
  return out as T
}

/**
 * A worker's answer that has the shape of a snapshot: one every view can show (a worker answering
 * anything else, e.g. a snapshot missing a part, is listed as a malformed answer instead of
 * failing /health, /stats and get_status for the whole service).
 */
function asSnapshot(v: unknown): StatusSnapshot | null {
  if (!(isObject(v) && typeof v.instanceId === 'string' && isObject(v.connections) && isObject(v.traffic) && isObject(v.broker))) return null
  const s = v as unknown as StatusSnapshot
  try {
    healthView(s)
    statsView(s)
    workersView({ ...s, workers: [{ id: 0, pid: 0, snapshot: s }] })
  } catch {
    return null
  }
  return s
}

/** A client row as clientsSnapshot makes one (what the merge sorts and shows). */
const isClientRow = (r: unknown): r is ClientRow => isObject(r) && typeof r.id === 'string' && typeof r.connected_at === 'string'

/** The workers' snapshots, this worker's own one included even when the primary did not list it yet. */
function workerStatuses(own: StatusSnapshot, self: WorkerIdentity, gathered: Gathered): WorkerStatus[] {
  const workers: WorkerStatus[] = gathered.workers.map(({ id, pid, value, error }) => {
    const snapshot = id === self.id ? own : asSnapshot(value)
    return { id, pid, snapshot, ...(snapshot === null ? { error: error ?? 'malformed answer' } : {}) }
  })
  if (!workers.some((w) => w.id === self.id)) workers.push({ ...self, snapshot: own })
  return workers.sort((a, b) => a.id - b.id)
}

/** A source's state over the workers: the one state when they agree, else each worker's. */
function sources(workers: readonly WorkerStatus[]): Record<string, string> {
  const seen = new Map<string, { id: number; state: string }[]>()
  for (const w of workers) {
    for (const [name, state] of Object.entries(w.snapshot?.sources ?? {})) seen.set(name, [...(seen.get(name) ?? []), { id: w.id, state }])
  }
  const out: Record<string, string> = {}
  for (const [name, states] of seen) {
    const distinct = new Set(states.map((s) => s.state))
    out[name] = distinct.size === 1 ? (states[0]?.state ?? '') : states.map((s) => `${s.state} (worker ${s.id})`).join(', ')
  }
  return out
}

/** The broker as the service shows it: this worker's view of the cluster, every worker's counters summed. */
function broker(own: BrokerStats, all: readonly BrokerStats[]): BrokerStats {
  const summed = sumFigures(all)
  return { ...summed, state: own.state, kind: own.kind, instances: own.instances, clusterConnections: own.clusterConnections, ...(own.cluster !== undefined ? { cluster: own.cluster } : {}) }
}

/** The whole service: `own` is the answering worker's snapshot, `gathered` what the primary collected. */
export function mergeSnapshots(own: StatusSnapshot, self: WorkerIdentity, gathered: Gathered): StatusSnapshot {
  const workers = workerStatuses(own, self, gathered)
  const live = workers.flatMap((w) => (w.snapshot === null ? [] : [w.snapshot]))
  const channels = sumFigures(live.map((s) => s.channels))
  return {
    ...own,
    // A worker that does not answer (hung, stopped) serves none of the connections handed to it.
    healthy: live.length === workers.length && live.every((s) => s.healthy),
    uptime: seconds(gathered.uptime),
    connections: sumFigures(live.map((s) => s.connections)),
    channels,
    roomCount: Object.keys(channels).length,
    traffic: sumFigures(live.map((s) => s.traffic)),
    broker: broker(own.broker, live.map((s) => s.broker)),
    delivery: sumFigures(live.map((s) => s.delivery)),
    parts: sumFigures(live.map((s) => s.parts as Record<string, Json>)) as Record<string, JsonObject>,
    sources: sources(workers),
    workers,
  }
}

function asClients(v: unknown): ClientsSnapshot | null {
  if (!(isObject(v) && Array.isArray(v.clients) && isObject(v.channels))) return null
  return { ...(v as unknown as ClientsSnapshot), clients: (v.clients as unknown[]).filter(isClientRow) }
}

/** Every worker's clients, each marked with its worker, oldest first; the channels summed. */
export function mergeClients(own: ClientsSnapshot, self: WorkerIdentity, gathered: Gathered): ClientsSnapshot {
  const answers = gathered.workers.map(({ id, pid, value, error }) => ({ id, pid, snapshot: id === self.id ? own : asClients(value), error }))
  if (!answers.some((a) => a.id === self.id)) answers.push({ ...self, snapshot: own, error: undefined })
  answers.sort((a, b) => a.id - b.id)
  const clients: ClientRow[] = []
  for (const a of answers) for (const c of a.snapshot?.clients ?? []) clients.push({ ...c, worker: a.id })
  clients.sort((a, b) => a.connected_at.localeCompare(b.connected_at))
  return {
    service: own.service,
    clients,
    channels: sumFigures(answers.flatMap((a) => (a.snapshot === null ? [] : [a.snapshot.channels]))),
    workers: answers.map((a) =>
      a.snapshot === null ? { id: a.id, pid: a.pid, clients: null, error: a.error ?? 'malformed answer' } : { id: a.id, pid: a.pid, clients: a.snapshot.clients.length },
    ),
  }
}
