import { describeTopology } from '../broker/broker.js'

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
  /** On a Redis Cluster: its view in words, `ok (3 masters, 3 replicas, 16384/16384 slots)`. */
  readonly cluster?: string
  readonly postgres?: string | null
  /** With `workers: N > 1`: each worker's connections (undefined when it did not answer). */
  readonly workers?: readonly { readonly id: number; readonly pid: number; readonly connections?: number }[]
  /** Channel → subscribers (cluster-wide from GET /channels when the service has it, else this instance's from /stats). */
  readonly channelCounts?: Readonly<Record<string, number>>
  /** Channels that keep presence (from GET /channels). */
  readonly presence?: readonly string[]
}

/** Why a request got no answer, in words: `connection refused`, `no answer within 1.5 s`, … */
const REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
}

/** A down card's line: where the dashboard looked and why it got no status (docs/dashboard.md). */
export function unreachable(url: string, err: unknown, timeoutMs: number): string {
  const where = new URL(url).host
  const e = err as Error & { cause?: { code?: string; message?: string } }
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `unreachable at ${where}: no answer within ${timeoutMs / 1000} s`
  if (e instanceof HttpError) return `${e.message} at ${where}`
  const code = e.cause?.code
  const reason = (code !== undefined ? REASONS[code] : undefined) ?? e.cause?.message ?? e.message
  return `unreachable at ${where}: ${reason}`
}

class HttpError extends Error {}

type Json = Record<string, unknown>
const obj = (v: unknown): Json => (typeof v === 'object' && v !== null ? (v as Json) : {})
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined)

/** GET of a JSON document; `ok` lists the statuses whose body is still the answer (/health is 503 when unhealthy). */
async function getJson(url: string, timeoutMs: number, ok: readonly number[] = []): Promise<Json> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
  if (!res.ok && !ok.includes(res.status)) {
    const body = obj(await res.json().catch(() => ({})))
    throw new HttpError(`HTTP ${res.status} from ${new URL(url).pathname}${typeof body.error === 'string' ? `: ${body.error}` : ''}`)
  }
  return obj(await res.json())
}

/** GET /channels of a service that has it (cluster-wide counts and presence); null when it has not. */
async function channelList(t: ServiceTarget, timeoutMs: number): Promise<{ counts: Record<string, number>; presence: string[] } | null> {
  try {
    const list = await getJson(`${t.http}/channels`, timeoutMs)
    if (!Array.isArray(list.channels)) return null
    const counts: Record<string, number> = {}
    const presence: string[] = []
    for (const c of list.channels.map(obj)) {
      if (typeof c.channel !== 'string') continue
      counts[c.channel] = num(c.subscribers) ?? 0
      if (c.presence === true) presence.push(c.channel)
    }
    return { counts, presence }
  } catch {
    return null
  }
}

/** Reads one service; a service that does not answer in time is down, with the reason. */
export async function pollService(t: ServiceTarget, timeoutMs = 1500): Promise<ServiceStatus> {
  try {
    const [health, stats, list] = await Promise.all([getJson(`${t.http}/health`, timeoutMs, [503]), getJson(`${t.http}/stats`, timeoutMs), channelList(t, timeoutMs)])
    const broker = obj(health.bridge)
    const delivery = obj(stats.delivery)
    const pg = obj(health.postgres)
    return {
      name: t.name,
      up: health.status === 'healthy',
      status: String(health.status),
      ...(health.status === 'healthy' ? {} : { error: `${String(health.status)} at ${new URL(t.http).host}` }),
      connections: num(health.connectedClients),
      channels: num(health.activeChannels),
      deliveries: num(stats.deliveries),
      pending: num(delivery.pending) ?? num(stats.pending_deliveries),
      failed: num(delivery.failed),
      redis: typeof broker.state === 'string' ? broker.state : undefined,
      instances: num(broker.instances),
      ...(clusterView(broker.cluster) ?? {}),
      postgres: typeof pg.state === 'string' ? pg.state : null,
      ...(Array.isArray(health.workers) ? { workers: health.workers.map(obj).map((w) => ({ id: num(w.id) ?? 0, pid: num(w.pid) ?? 0, connections: num(w.connections) })) } : {}),
      channelCounts: list?.counts ?? (obj(stats.channels) as Record<string, number>),
      presence: list?.presence ?? [],
    }
  } catch (err) {
    return { name: t.name, up: false, error: unreachable(`${t.http}/health`, err, timeoutMs) }
  }
}

export function collectStatus(targets: readonly ServiceTarget[]): Promise<ServiceStatus[]> {
  return Promise.all(targets.map((t) => pollService(t)))
}

/** What a channel's panel shows: its presence and recent history, or why not (docs/dashboard.md). */
export interface ChannelDetail {
  readonly channel: string
  readonly presence: Json | { readonly error: string }
  readonly history: Json | { readonly error: string }
}

/** GET of one of a channel's documents on its service; the service's own refusal (e.g. PRESENCE_NOT_ENABLED) is the answer. */
async function channelDoc(t: ServiceTarget, channel: string, doc: string, timeoutMs: number): Promise<Json | { error: string }> {
  const url = `${t.http}/channels/${encodeURIComponent(channel)}/${doc}`
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
    const body = obj(await res.json().catch(() => ({})))
    if (res.ok) return body
    return { error: typeof body.error === 'string' ? body.error : `HTTP ${res.status}`, ...(typeof body.code === 'string' ? { code: body.code } : {}) }
  } catch (err) {
    return { error: unreachable(url, err, timeoutMs) }
  }
}

/** A channel's presence (GET /channels/{channel}/presence) and recent history (GET /channels/{channel}/history), read server-side. */
export async function channelDetail(t: ServiceTarget, channel: string, timeoutMs = 1500): Promise<ChannelDetail> {
  const [presence, history] = await Promise.all([channelDoc(t, channel, 'presence', timeoutMs), channelDoc(t, channel, 'history?limit=20', timeoutMs)])
  return { channel, presence, history }
}

/** `{cluster: 'ok (3 masters, …)'}` from a /health bridge's `cluster`, or null when it has none. */
function clusterView(raw: unknown): { cluster: string } | null {
  const c = obj(raw)
  const [masters, replicas, slotsServed] = [num(c.masters), num(c.replicas), num(c.slotsServed)]
  if (typeof c.state !== 'string' || masters === undefined || replicas === undefined || slotsServed === undefined) return null
  return { cluster: describeTopology({ state: c.state, masters, replicas, slotsServed }) }
}
