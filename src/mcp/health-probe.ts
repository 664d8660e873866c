import { type BrokerTopology, describeTopology } from '../broker/broker.js'
import { describeFailure, httpUrl } from './remote.js'

/** What GET /health on a service's ws port showed, used to explain why MCP could not be reached. */
export type HealthProbe =
  | { readonly kind: 'down'; readonly url: string; readonly cause: string }
  | {
      readonly kind: 'roomcast'
      readonly url: string
      readonly service: string
      readonly status: string
      readonly httpStatus: number
      /** The whole health document (GET /health of docs/protocol.md E). */
      readonly doc: Readonly<Record<string, unknown>>
    }
  | { readonly kind: 'foreign'; readonly url: string; readonly httpStatus: number; readonly contentType: string }
  | { readonly kind: 'unavailable'; readonly url: string; readonly where: string }

/** GET http://host:port/health: a roomcast health document, something else, or nothing at all. */
export async function probeHealth(host: string, port: number, timeoutMs: number): Promise<HealthProbe> {
  const url = httpUrl(host, port, '/health').href
  let res: Response
  let text: string
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
    text = await res.text()
  } catch (err) {
    return { kind: 'down', url, cause: describeFailure(err) }
  }
  let body: unknown = null
  try {
    body = JSON.parse(text)
  } catch {
    // not JSON: foreign
  }
  const doc = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {}
  if (doc.type === 'websocket' && typeof doc.service === 'string') {
    // A service draining (SIGTERM) answers its own 503, status draining: going away, as fastify's own 503 while it closes.
    if (doc.status === 'draining') return { kind: 'unavailable', url, where: `${host}:${port}` }
    return { kind: 'roomcast', url, service: doc.service, status: String(doc.status), httpStatus: res.status, doc }
  }
  // fastify answers every request with its own 503 while the service drains.
  if (res.status === 503) return { kind: 'unavailable', url, where: `${host}:${port}` }
  return { kind: 'foreign', url, httpStatus: res.status, contentType: res.headers.get('content-type') ?? 'no content type' }
}

/** The status line when MCP is unreachable, told with what the ws port answered. */
export function explainUnreachable(service: string, mcpUrl: string, mcpCause: string, probe: HealthProbe): string {
  switch (probe.kind) {
    case 'down':
      return `${service}: unreachable at ${probe.url}: ${probe.cause}; MCP at ${mcpUrl}: ${mcpCause}`
    case 'foreign':
      return `${service}: not a roomcast service at ${probe.url} (HTTP ${probe.httpStatus}, ${probe.contentType}); MCP at ${mcpUrl}: ${mcpCause}`
    case 'unavailable':
      return `${service}: unavailable on ${probe.where} (HTTP 503: shutting down or overloaded); MCP at ${mcpUrl}: ${mcpCause}`
    case 'roomcast':
      return `${service}: MCP unreachable at ${mcpUrl}: ${mcpCause}, but ${probe.url} answers (${probe.service}, ${probe.status}): check mcp.port or --mcp-port`
  }
}

/**
 * The status line and exit code from GET /health alone (`roomcast status` when MCP is disabled):
 * 0 only for a roomcast service answering 200 `healthy`.
 */
export function describeHealth(service: string, host: string, port: number, probe: HealthProbe): { code: 0 | 1; line: string } {
  switch (probe.kind) {
    case 'down':
      return { code: 1, line: `${service}: unreachable at ${probe.url}: ${probe.cause}` }
    case 'unavailable':
      return { code: 1, line: `${service}: unavailable on ${probe.where} (HTTP 503: shutting down or overloaded)` }
    case 'foreign':
      return { code: 1, line: `${service}: not a roomcast service at ${probe.url} (HTTP ${probe.httpStatus}, ${probe.contentType})` }
    case 'roomcast': {
      const { doc } = probe
      if (probe.httpStatus < 200 || probe.httpStatus >= 300 || probe.status !== 'healthy') {
        return { code: 1, line: `${service}: unhealthy on ${host}:${port}: status ${probe.status} (HTTP ${probe.httpStatus})` }
      }
      const cluster = clusterNote(doc.bridge as BrokerSummary | undefined) + workersNote(doc.workers) + sourcesNote(doc.sources)
      return { code: 0, line: `${service}: healthy on ${host}:${port} (${String(doc.connectedClients)} connections, ${String(doc.activeChannels)} channels${cluster})` }
    }
  }
}

/** The broker fields a status line shows (the `bridge` object of /health). */
export interface BrokerSummary {
  readonly kind: string
  readonly state: string
  readonly instances: number
  /** On a Redis Cluster: its state as a master describes it (docs/scaling.md, "Past one Redis"). */
  readonly cluster?: BrokerTopology
}

/**
 * `; redis connected, 2 instances` for a clustered service; on a Redis Cluster followed by
 * `, cluster ok (3 masters, 3 replicas, 16384/16384 slots)`; empty for the in-memory broker.
 */
export function clusterNote(broker: BrokerSummary | undefined): string {
  if (broker === undefined || broker.kind === 'memory') return ''
  const view = broker.cluster === undefined ? '' : `, cluster ${describeTopology(broker.cluster)}`
  return `; ${broker.kind} ${broker.state}, ${broker.instances} instances${view}`
}

/** `; 2 workers (3 + 2 connections)` for a service running workers (each worker's connections); empty otherwise. */
export function workersNote(workers: unknown): string {
  if (!Array.isArray(workers) || workers.length === 0) return ''
  const each = workers.map((w: { connections?: unknown }) => (typeof w?.connections === 'number' ? String(w.connections) : 'unreachable'))
  return `; ${workers.length} workers (${each.join(' + ')} connections)`
}

/** `; postgres listening` for each event source a service reports; empty when it has none. */
export function sourcesNote(sources: unknown): string {
  if (typeof sources !== 'object' || sources === null) return ''
  return Object.entries(sources)
    .filter((e): e is [string, string] => typeof e[1] === 'string')
    .map(([name, state]) => `; ${name} ${state}`)
    .join('')
}
