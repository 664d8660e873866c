import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type * as StreamableHttp from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import type { ServerPlugin } from '../server/plugin.js'
import { requestTimeouts } from '../server/http-transport.js'
import type { ServerView } from '../server/server-view.js'
import type * as McpTools from './mcp-server.js'
import type { ToolName } from './schemas.js'
import { TOOL_HANDLERS, type ToolContext } from './tools.js'
import { MCP_SERVER_VERSION, mcpPortOf } from './mcp-port.js'

export { MCP_SERVER_VERSION, mcpPortOf } from './mcp-port.js'

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body))
}

/** JSON-RPC error body for failures before the MCP layer sees the request. */
const rpcError = (code: number, message: string) => ({ jsonrpc: '2.0', error: { code, message }, id: null })

/**
 * Serves the MCP tools over streamable HTTP at `/mcp` on the service's MCP port. Stateless: each
 * POST gets a fresh McpServer and transport, so nothing is held between calls. Access is the
 * server's policy for protected routes (src/auth/access-policy.ts), as for POST /publish.
 */
export class McpPlugin implements ServerPlugin {
  readonly name = 'mcp'
  #server: ServerView | null = null
  #http: Server | null = null
  #port = 0
  /** The MCP SDK's parts, loaded by start(): importing roomcast, or a service without MCP, never loads the SDK. */
  #sdk: Sdk | null = null

  /** The bound MCP port (0 before start). */
  get port(): number {
    return this.#port
  }

  setup(server: ServerView): void {
    this.#server = server
  }

  async start(): Promise<void> {
    const server = this.#server
    if (server === null) throw new Error('McpPlugin started before setup')
    this.#sdk ??= await loadSdk()
    const timeouts = requestTimeouts(server.settings)
    const http = createServer(timeouts, (req, res) => this.#handle(server, req, res))
    // Bounded like everything else: MCP callers are operators and agents, not the WebSocket crowd.
    http.maxConnections = 128
    this.#http = http
    const port = mcpPortOf(server.settings)
    http.listen(port, server.settings.host)
    try {
      await once(http, 'listening')
    } catch (err) {
      this.#http = null
      throw new Error(`cannot listen for MCP on ${server.settings.host}:${port}: ${(err as Error).message} (set mcp.port, or mcp.enabled: false)`, { cause: err })
    }
    const addr = http.address()
    this.#port = typeof addr === 'object' && addr !== null ? addr.port : port
    server.log.info({ port: this.#port, path: '/mcp' }, 'MCP listening')
  }

  async stop(): Promise<void> {
    const http = this.#http
    if (http === null) return
    this.#http = null
    const closed = once(http, 'close')
    http.close()
    http.closeAllConnections()
    await closed
  }

  #handle(server: ServerView, req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]
    if (path !== '/mcp') return sendJson(res, 404, { error: `No route ${req.method} ${path}`, code: 'NOT_FOUND' })
    // The ws port's policy for protected routes: a Bearer key, or a loopback caller naming a loopback Host.
    const refusal = server.access.check(req, 'protected')
    if (refusal !== null) {
      return sendJson(res, refusal.status, { error: refusal.error, code: refusal.code }, refusal.status === 401 ? { 'www-authenticate': 'Bearer' } : {})
    }
    if (req.method !== 'POST') return sendJson(res, 405, rpcError(-32000, 'Method not allowed: this MCP endpoint is stateless, use POST'), { allow: 'POST' })
    readBody(req, server.settings.max_payload).then(
      (body) => this.#serve(server, req, res, body),
      (err: Error & { status?: number }) => {
        sendJson(res, err.status ?? 400, rpcError(-32700, err.message), { connection: 'close' })
        res.once('finish', () => req.destroy())
      },
    )
  }

  #serve(server: ServerView, req: IncomingMessage, res: ServerResponse, body: unknown): void {
    const { buildMcpServer, toolError, toolResult, StreamableHTTPServerTransport } = this.#sdk as Sdk
    const ctx: ToolContext = { server, mcpPort: () => this.#port }
    const mcp = buildMcpServer(server.name, MCP_SERVER_VERSION, async (name: ToolName, args) => {
      server.log.debug({ tool: name }, 'MCP tool call')
      try {
        const run = TOOL_HANDLERS[name] as (c: ToolContext, a: unknown) => Record<string, unknown> | Promise<Record<string, unknown>>
        return toolResult(await run(ctx, args))
      } catch (err) {
        return toolError(err, server.log)
      }
    })
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true })
    res.on('close', () => {
      transport.close().catch(() => {})
      mcp.close().catch(() => {})
    })
    mcp
      .connect(transport)
      .then(() => transport.handleRequest(req, res, body))
      .catch((err: unknown) => {
        server.log.error({ err }, 'MCP request failed')
        if (!res.headersSent) sendJson(res, 500, rpcError(-32603, 'Internal server error'))
      })
  }
}

type Sdk = typeof McpTools & Pick<typeof StreamableHttp, 'StreamableHTTPServerTransport'>

/** The MCP SDK (about 25 MiB of RSS, docs/performance.md) and the tools built on it. */
async function loadSdk(): Promise<Sdk> {
  const [tools, { StreamableHTTPServerTransport }] = await Promise.all([import('./mcp-server.js'), import('@modelcontextprotocol/sdk/server/streamableHttp.js')])
  return { ...tools, StreamableHTTPServerTransport }
}

/** Reads a JSON body of at most `limit` bytes. */
function readBody(req: IncomingMessage, limit: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        // Answer at once and drop the connection rather than read the rest of an oversized body.
        req.pause()
        reject(Object.assign(new Error(`Request body larger than ${limit} bytes`), { status: 413 }))
        return
      }
      chunks.push(chunk)
    })
    req.on('error', reject)
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')))
      } catch {
        reject(new Error('Parse error: body is not JSON'))
      }
    })
  })
}
