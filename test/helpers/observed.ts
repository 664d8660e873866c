import { pino } from 'pino'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { SERVICES } from '../../services/index.js'
import { type Broker, McpPlugin, MetricsPlugin, parseSettings, type SettingsInput, type WebSocketServer } from '../../src/index.js'

/** A service started in process with the plugins `roomcast serve` attaches. */
export interface Observed {
  server: WebSocketServer
  mcp: McpPlugin
  metrics: MetricsPlugin
  url: string
  http: string
  mcpUrl: URL
}

/** Starts a service on free ports (ws and MCP) with metrics and MCP attached. */
export async function startObserved(name: string, settings: SettingsInput = {}, options: { broker?: Broker } = {}): Promise<Observed> {
  const entry = SERVICES[name]
  if (entry === undefined) throw new Error(`no service ${name}`)
  const parsed = parseSettings({ port: 0, log_level: 'silent', drain_timeout: 2, ...settings })
  const server = entry.create(parsed, { logger: pino({ level: parsed.log_level }), ...options })
  const mcp = new McpPlugin()
  const metrics = new MetricsPlugin()
  server.use(metrics).use(mcp)
  const { port } = await server.listen()
  return {
    server,
    mcp,
    metrics,
    url: `ws://127.0.0.1:${port}/ws`,
    http: `http://127.0.0.1:${port}`,
    mcpUrl: new URL(`http://127.0.0.1:${mcp.port}/mcp`),
  }
}

/** An MCP SDK client over streamable HTTP. */
export async function httpClient(url: URL, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: 'roomcast-test', version: '0.0.0' })
  await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers } }))
  return client
}

/** Calls a tool and returns its structured output, failing with the tool's own text when it errs. */
export async function callOk(client: Client, name: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const res = (await client.callTool({ name, arguments: args })) as CallToolResult
  if (res.isError === true) throw new Error(`${name} failed: ${textOf(res)}`)
  return res.structuredContent as Record<string, unknown>
}

/** Calls a tool that must fail and returns its error text. */
export async function callErr(client: Client, name: string, args: Record<string, unknown> = {}): Promise<string> {
  const res = (await client.callTool({ name, arguments: args })) as CallToolResult
  if (res.isError !== true) throw new Error(`${name} succeeded but should have failed: ${JSON.stringify(res.structuredContent)}`)
  return textOf(res)
}

export function textOf(res: CallToolResult): string {
  return res.content.map((c) => (c.type === 'text' ? c.text : '')).join(' ')
}
