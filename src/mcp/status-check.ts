import { callRemoteTool, connectRemote, describeFailure, errorText, mcpUrl, type RemoteTarget } from './remote.js'
import { HealthOutputSchema } from './schemas.js'

/** What `roomcast status` prints and exits with. */
export interface StatusReport {
  readonly code: 0 | 1
  readonly line: string
}

/**
 * Asks a running service for websocket_health_check over MCP: exit code 0 when it answers
 * `healthy`, 1 otherwise, with one line saying why.
 */
export async function checkStatus(service: string, target: RemoteTarget): Promise<StatusReport> {
  const url = mcpUrl(target).href
  let client
  try {
    client = await connectRemote(target)
  } catch (err) {
    return { code: 1, line: `${service}: unreachable: MCP at ${url}: ${describeFailure(err)}` }
  }
  try {
    const result = await callRemoteTool(client, 'websocket_health_check', {}, 5000)
    if (result.isError === true) return { code: 1, line: `${service}: health check failed at ${url}: ${errorText(result)}` }
    const parsed = HealthOutputSchema.safeParse(result.structuredContent)
    if (!parsed.success) return { code: 1, line: `${service}: unexpected health check answer from ${url}: ${parsed.error.issues[0]?.message ?? ''}` }
    const h = parsed.data
    if (h.service !== service) return { code: 1, line: `${service}: ${url} is the MCP endpoint of ${h.service}, not ${service}` }
    const where = `${h.host}:${h.port}`
    const detail = `${h.connections} connections, ${h.rooms} channels, bridge ${h.bridge.state}`
    if (h.status === 'healthy') return { code: 0, line: `${service}: healthy on ${where} (${detail})` }
    return { code: 1, line: `${service}: ${h.status} on ${where}: the server is not accepting connections (${detail})` }
  } catch (err) {
    return { code: 1, line: `${service}: health check failed at ${url}: ${describeFailure(err)}` }
  } finally {
    await client.close().catch(() => {})
  }
}
