import { once } from 'node:events'
import { type IncomingMessage, request } from 'node:http'
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { afterEach, describe, expect, it } from 'vitest'
import { type AddressInfo, createServer } from 'node:net'
import { McpPlugin, parseSettings } from '../../src/index.js'
import { signToken } from '../../src/auth/jwt.js'
import { WorkflowServer } from '../../services/workflow/index.js'
import { TestClient } from '../helpers/client.js'
import { exerciseWorkflowTools } from '../helpers/mcp-tools.js'
import { callOk, httpClient, type Observed, startObserved } from '../helpers/observed.js'

describe('MCP over streamable HTTP at /mcp on the MCP port', () => {
  let s: Observed | undefined
  let client: Client | undefined
  afterEach(async () => {
    await client?.close()
    await s?.server.close()
    client = s = undefined
  })

  it('lists every tool with schemas; each answers from live state; ws_publish reaches a subscriber; bad calls are errors', async () => {
    s = await startObserved('workflow')
    expect(s.mcp.port).not.toBe(s.server.port)
    client = await httpClient(s.mcpUrl)
    await exerciseWorkflowTools(client, s.url, s.server.port)
  })

  it('lists the authenticated user of each client', async () => {
    const secret = 'a-secret-of-at-least-16-chars'
    s = await startObserved('workflow', { auth: { required: true, secret } })
    const ws = await TestClient.connect(s.url, { welcome: false })
    const auth = await ws.request('auth', { token: await signToken({ userId: 'ada', permissions: ['workflow:read'] }, secret, 60) })
    expect(auth.data).toMatchObject({ status: 'authenticated', user_id: 'ada' })
    await ws.next((f) => f.event === 'session.created')
    client = await httpClient(s.mcpUrl)
    const { clients } = await callOk(client, 'list_ws_clients')
    expect(clients).toMatchObject([{ authenticated: true, user_id: 'ada' }])
    await ws.close()
  })

  it('with an api_key, refuses callers without the Bearer key and serves those with it', async () => {
    s = await startObserved('workflow', { api_key: 'k-12345678' })
    await expect(httpClient(s.mcpUrl)).rejects.toThrow(/401|invalid API key/i)
    await expect(httpClient(s.mcpUrl, { authorization: 'Bearer wrong-key-1' })).rejects.toThrow(/401|invalid API key/i)
    client = await httpClient(s.mcpUrl, { authorization: 'Bearer k-12345678' })
    expect(await callOk(client, 'websocket_health_check')).toMatchObject({ status: 'healthy' })
  })

  it('without an api_key, turns away a request naming a non-loopback Host (DNS rebinding)', async () => {
    s = await startObserved('workflow')
    // fetch will not send a foreign Host header: use node:http, as a rebinding browser effectively does.
    const req = request(s.mcpUrl, { method: 'POST', headers: { host: 'attacker.example', 'content-type': 'application/json', accept: 'application/json, text/event-stream' } })
    req.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }))
    const [res] = (await once(req, 'response')) as [IncomingMessage]
    res.resume()
    expect(res.statusCode).toBe(403)
  })

  it('answers bad JSON, oversized bodies, GET and unknown paths with HTTP errors, and keeps serving', async () => {
    s = await startObserved('workflow', { max_payload: 4096 })
    const post = (body: string) => fetch(s!.mcpUrl, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body })
    const bad = await post('{not json')
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/not JSON/)
    expect((await post(JSON.stringify({ pad: 'x'.repeat(8000) }))).status).toBe(413)
    expect((await fetch(s.mcpUrl)).status).toBe(405)
    expect((await fetch(new URL('/other', s.mcpUrl))).status).toBe(404)
    client = await httpClient(s.mcpUrl)
    expect(await callOk(client, 'websocket_health_check')).toMatchObject({ status: 'healthy' })
  })

  it('refuses to start when the MCP port is taken, naming the port, and releases the ws port', async () => {
    const squatter = createServer()
    squatter.listen(0, '127.0.0.1')
    await once(squatter, 'listening')
    const taken = (squatter.address() as AddressInfo).port
    try {
      const server = new WorkflowServer(parseSettings({ port: 0, log_level: 'silent', mcp: { port: taken } }))
      server.use(new McpPlugin())
      await expect(server.listen()).rejects.toThrow(new RegExp(`cannot listen for MCP on 127\\.0\\.0\\.1:${taken}: .*EADDRINUSE`))
      expect(server.state).toBe('stopped')
      await expect(fetch(`http://127.0.0.1:${server.port}/health`)).rejects.toThrow()
    } finally {
      squatter.close()
    }
  })

  it('answers stopped while the server drains, and status draining', async () => {
    s = await startObserved('workflow', { drain_timeout: 1 })
    client = await httpClient(s.mcpUrl)
    const ws = await TestClient.connect(s.url)
    ws.ws.pause() // never reads the 1001 close frame, so the drain waits for it
    const closing = s.server.close()
    expect(await callOk(client, 'websocket_health_check')).toMatchObject({ status: 'stopped', connections: 1 })
    expect(await callOk(client, 'websocket_status')).toMatchObject({ state: 'draining' })
    await closing
    s = undefined
  })

  it('closes the MCP port when the server shuts down', async () => {
    s = await startObserved('workflow')
    const url = s.mcpUrl
    await s.server.close()
    s = undefined
    await expect(fetch(url, { method: 'POST', body: '{}' })).rejects.toThrow()
  })
})
