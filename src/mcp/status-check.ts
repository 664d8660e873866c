import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { callRemoteTool, closeQuietly, connectRemote, describeFailure, errorText, isTimeout, mcpUrl, type RemoteTarget } from './remote.js'
import { clusterNote, explainUnreachable, probeHealth, sourcesNote, workersNote } from './health-probe.js'
import { HealthOutputSchema } from './schemas.js'

/** The service's ws address, asked for GET /health only to explain an unreachable MCP endpoint. */
export interface WsAddress {
  readonly host: string
  readonly port: number
}

/** What `roomcast status` prints and exits with. */
export interface StatusReport {
  readonly code: 0 | 1
  readonly line: string
}

/** The share of `roomcast status`'s timeout the first MCP connection may take before a second one is tried. */
const FIRST_CONNECT_SHARE = 0.4

const oneLine = (text: string) => (text.length > 200 ? `${text.slice(0, 200)}…` : text).replace(/\s+/g, ' ')

/** Why connecting failed, in the words a user needs: nothing listens, access refused, or not MCP at all. */
async function connectFailure(service: string, url: string, err: unknown, timeoutMs: number, ws: WsAddress): Promise<string> {
  if (isTimeout(err)) return `${service}: no answer from ${url} within ${timeoutMs / 1000} s`
  // fetch reports an unreachable address as a TypeError whose cause says why (ECONNREFUSED, …).
  // Then the ws port's GET /health tells whether the whole service is down or only MCP is elsewhere.
  if (err instanceof TypeError && err.cause !== undefined) {
    return explainUnreachable(service, url, describeFailure(err), await probeHealth(ws.host, ws.port, timeoutMs))
  }
  const status = (err as { code?: unknown }).code
  const message = err instanceof Error ? err.message.replace(/^Streamable HTTP error: /, '') : String(err)
  if (status === 401 || status === 403) return `${service}: refused at ${url} (HTTP ${status}): ${oneLine(message)}`
  if (err instanceof Error && err.name === 'ZodError') return `${service}: not a roomcast service at ${url}: the answer is not MCP`
  return `${service}: not a roomcast service at ${url}: ${oneLine(message)}`
}

/**
 * Asks a running service for websocket_health_check over MCP: exit code 0 when it answers
 * `healthy`, 1 otherwise, with one line saying why. Only when MCP cannot be reached at all does
 * it look at GET /health on the ws port, to say whether the service is down or MCP is elsewhere.
 */
export async function checkStatus(service: string, target: RemoteTarget, ws: WsAddress, timeoutMs = 5000): Promise<StatusReport> {
  const url = mcpUrl(target).href
  // One budget for the whole check. The first connection gets part of it: with workers,
  // node:cluster may hand it to a worker that is hung (it takes the next connection once), and a
  // second connection then goes to one that answers and reports the hung one unreachable.
  const deadline = Date.now() + timeoutMs
  const left = () => Math.max(1, deadline - Date.now())
  let client: Client
  try {
    client = await connectRemote(target, 'roomcast-status', Math.max(1, Math.round(timeoutMs * FIRST_CONNECT_SHARE)))
  } catch (err) {
    if (!isTimeout(err)) return { code: 1, line: await connectFailure(service, url, err, timeoutMs, ws) }
    try {
      client = await connectRemote(target, 'roomcast-status', left())
    } catch (again) {
      return { code: 1, line: await connectFailure(service, url, again, timeoutMs, ws) }
    }
  }
  try {
    const result = await callRemoteTool(client, 'websocket_health_check', {}, left())
    if (result.isError === true) return { code: 1, line: `${service}: health check failed at ${url}: ${oneLine(errorText(result))}` }
    const parsed = HealthOutputSchema.safeParse(result.structuredContent)
    if (!parsed.success) return { code: 1, line: `${service}: not a roomcast service at ${url}: unexpected health check answer` }
    const h = parsed.data
    if (h.service !== service) return { code: 1, line: `${service}: ${url} is the MCP endpoint of ${h.service}, not ${service}` }
    const detail = `${h.connections} connections, ${h.rooms} channels${clusterNote(h.bridge)}${workersNote(h.workers)}${sourcesNote(h.sources)}`
    if (h.status === 'healthy') return { code: 0, line: `${service}: healthy on ${h.host}:${h.port} (${detail})` }
    if (h.status === 'unhealthy') return { code: 1, line: `${service}: unhealthy on ${h.host}:${h.port}: ${unhealthyWhy(h.workers)} (${detail})` }
    return { code: 1, line: `${service}: ${h.status} on ${h.host}:${h.port}: not accepting connections (${detail})` }
  } catch (err) {
    if (isTimeout(err)) return { code: 1, line: `${service}: no answer from ${url} within ${timeoutMs / 1000} s` }
    return { code: 1, line: `${service}: health check failed at ${url}: ${oneLine(describeFailure(err))}` }
  } finally {
    await closeQuietly(client)
  }
}

/** Why a running service is unhealthy, as far as its answer tells: the workers that did not answer, or a part down. */
function unhealthyWhy(workers: unknown): string {
  const rows = Array.isArray(workers) ? (workers as { id?: unknown; status?: unknown }[]) : []
  const gone = rows.filter((w) => w?.status === 'unreachable').map((w) => String(w.id))
  if (gone.length === 0) return 'a part is down (see websocket_get_metrics or GET /health)'
  return `${gone.length === 1 ? 'worker' : 'workers'} ${gone.join(', ')} unreachable`
}
