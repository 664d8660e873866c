import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { type CallToolResult, ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js'
import type { ToolName } from './schemas.js'

/** Where a running service's MCP endpoint is. */
export interface RemoteTarget {
  readonly host: string
  readonly port: number
  /** The service's api_key, sent as a Bearer key when set. */
  readonly apiKey: string | null
}

/** `http://host:port<path>` of a running service, bracketing IPv6 hosts. */
export function httpUrl(host: string, port: number, path: string): URL {
  return new URL(`http://${host.includes(':') ? `[${host}]` : host}:${port}${path}`)
}

/** `http://host:port/mcp`. */
export function mcpUrl(target: Pick<RemoteTarget, 'host' | 'port'>): URL {
  return httpUrl(target.host, target.port, '/mcp')
}

/** The innermost cause of a failed fetch ("connect ECONNREFUSED …" rather than "fetch failed"). */
export function describeFailure(err: unknown): string {
  let e: unknown = err
  while (e instanceof Error && e.cause instanceof Error) e = e.cause
  return e instanceof Error ? e.message : String(e)
}

/** An MCP client connected over streamable HTTP to a running service; gives up after `timeoutMs`. */
export async function connectRemote(target: RemoteTarget, name = 'roomcast-cli', timeoutMs = 5000): Promise<Client> {
  const headers: Record<string, string> = target.apiKey === null ? {} : { authorization: `Bearer ${target.apiKey}` }
  const transport = new StreamableHTTPClientTransport(mcpUrl(target), { requestInit: { headers } })
  const client = new Client({ name, version: '0.1.0' })
  let timer: NodeJS.Timeout | undefined
  try {
    // Our own bound too: the SDK's timeout was seen not to fire when the connection went to a
    // hung (SIGSTOPped) worker.
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new McpError(ErrorCode.RequestTimeout, 'Request timed out')), timeoutMs)
    })
    await Promise.race([client.connect(transport, { timeout: timeoutMs }), late])
    clearTimeout(timer)
  } catch (err) {
    clearTimeout(timer)
    // Abort the request still in flight: a service that accepted but never answers must not keep
    // us alive. Not awaited: closing a connection to a peer that does not read (a hung worker)
    // may itself never finish.
    void closeQuietly(client)
    throw err
  }
  return client
}

/** Closes an MCP client without waiting more than a moment for it (a hung peer may never let it finish). */
export function closeQuietly(client: Client, waitMs = 500): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, waitMs)
    timer.unref()
    client.close().then(
      () => {
        clearTimeout(timer)
        resolve()
      },
      () => {
        clearTimeout(timer)
        resolve()
      },
    )
  })
}

/** Whether an MCP request failed because no answer came in time. */
export function isTimeout(err: unknown): boolean {
  return err instanceof McpError && err.code === (ErrorCode.RequestTimeout as number)
}

/** Calls one tool; a tool error comes back as a result with isError, a transport failure throws. */
export async function callRemoteTool(client: Client, name: ToolName, args: Record<string, unknown> = {}, timeoutMs = 10_000): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args }, undefined, { timeout: timeoutMs })) as CallToolResult
}

/** The text of a tool error result. */
export function errorText(result: CallToolResult): string {
  return result.content.map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join(' ')
}
