import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import type { ToolName } from './schemas.js'
import { MCP_SERVER_VERSION } from './mcp-port.js'
import { buildMcpServer } from './mcp-server.js'
import { callRemoteTool, connectRemote, describeFailure, mcpUrl, type RemoteTarget } from './remote.js'

/**
 * `roomcast mcp <service>`: the same tools over stdio, for MCP clients that launch a command.
 * Each call is forwarded to the running service's MCP endpoint; when the service cannot be
 * reached (or does not answer within `timeoutMs`) the call is a tool error saying so, and the
 * next call tries again.
 * Resolves when stdin closes.
 */
export async function runStdioProxy(service: string, target: RemoteTarget, timeoutMs = 10_000): Promise<void> {
  let client: Promise<Client> | null = null
  const drop = () => {
    const c = client
    client = null
    c?.then((x) => x.close()).catch(() => {})
  }
  const inflight = new Set<Promise<unknown>>()
  const forward = async (name: ToolName, args: Record<string, unknown>): Promise<CallToolResult> => {
    client ??= connectRemote(target, `roomcast-mcp-${service}`, timeoutMs)
    try {
      return await callRemoteTool(await client, name, args, timeoutMs)
    } catch (err) {
      drop()
      const text = `Service ${service} not reachable at ${mcpUrl(target).href}: ${describeFailure(err)}`
      return { content: [{ type: 'text', text }], isError: true }
    }
  }
  const mcp = buildMcpServer(service, MCP_SERVER_VERSION, (name, args) => {
    const call = forward(name, args)
    inflight.add(call)
    void call.finally(() => inflight.delete(call))
    return call
  })
  const transport = new StdioServerTransport()
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve()
    process.stdin.once('end', () => resolve())
  })
  await mcp.connect(transport)
  await closed
  // A client that writes its requests and closes stdin still gets every answer.
  const tick = () => new Promise((r) => setImmediate(r))
  await tick()
  while (inflight.size > 0) await Promise.allSettled([...inflight])
  await tick()
  drop()
  await mcp.close()
}
