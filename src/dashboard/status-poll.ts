/** A service the dashboard shows. */
export interface ServiceTarget {
  readonly name: string
  readonly dialect: string
  /** `http://host:port` of the service. */
  readonly http: string
  /** `ws://host:port/ws` of the service. */
  readonly ws: string
}

/** One card's figures, from the service's GET /health and /stats (the services' one status model). */
export interface ServiceStatus {
  readonly name: string
  readonly up: boolean
  readonly error?: string
  readonly status?: string
  readonly connections?: number
  readonly channels?: number
  readonly deliveries?: number
  readonly pending?: number
  readonly failed?: number
  readonly redis?: string
  readonly instances?: number
  readonly postgres?: string | null
  /** With `workers: N > 1`: each worker's connections (undefined when it did not answer). */
  readonly workers?: readonly { readonly id: number; readonly pid: number; readonly connections?: number }[]
}

type Json = Record<string, unknown>
const obj = (v: unknown): Json => (typeof v === 'object' && v !== null ? (v as Json) : {})
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined)

async function getJson(url: string, timeoutMs: number): Promise<Json> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
  if (!res.ok) throw new Error(`${res.status} from ${url}`)
  return obj(await res.json())
}

/** Reads one service; a service that does not answer in time is down, with the reason. */
export async function pollService(t: ServiceTarget, timeoutMs = 1500): Promise<ServiceStatus> {
  try {
    const [health, stats] = await Promise.all([getJson(`${t.http}/health`, timeoutMs), getJson(`${t.http}/stats`, timeoutMs)])
    const broker = obj(health.bridge)
    const delivery = obj(stats.delivery)
    const pg = obj(health.postgres)
    return {
      name: t.name,
      up: health.status === 'healthy',
      status: String(health.status),
      connections: num(health.connectedClients),
      channels: num(health.activeChannels),
      deliveries: num(stats.deliveries),
      pending: num(delivery.pending) ?? num(stats.pending_deliveries),
      failed: num(delivery.failed),
      redis: typeof broker.state === 'string' ? broker.state : undefined,
      instances: num(broker.instances),
      postgres: typeof pg.state === 'string' ? pg.state : null,
      ...(Array.isArray(health.workers) ? { workers: health.workers.map(obj).map((w) => ({ id: num(w.id) ?? 0, pid: num(w.pid) ?? 0, connections: num(w.connections) })) } : {}),
    }
  } catch (err) {
    return { name: t.name, up: false, error: (err as Error).message }
  }
}

export function collectStatus(targets: readonly ServiceTarget[]): Promise<ServiceStatus[]> {
  return Promise.all(targets.map((t) => pollService(t)))
}
