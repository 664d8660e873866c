import { once } from 'node:events'
import { createServer } from 'node:http'
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { exerciseWorkflowTools } from '../helpers/mcp-tools.js'
import { type CliService, serveCli } from '../helpers/mcp-cli.js'
import { callErr } from '../helpers/observed.js'
import { freePort, ROOT, run, staleBuild } from '../helpers/supervisor.js'
import { PROCESS_TEST_TIMEOUT } from '../helpers/cli.js'
import { TOOL_NAMES } from '../../src/mcp/schemas.js'

describe('roomcast status and roomcast mcp against a running roomcast serve', { timeout: PROCESS_TEST_TIMEOUT }, () => {
  let svc: CliService | undefined
  let stdio: Client | undefined
  let stdioErr = ''
  const ports = () => ['--port', String(svc!.port), '--mcp-port', String(svc!.mcpPort)]

  beforeAll(async () => {
    // These run the built CLI: an old build would test old code.
    expect(staleBuild()).toBeNull()
    svc = await serveCli('workflow')
  })

  afterAll(async () => {
    await stdio?.close()
    await svc?.stop()
  })

  it('status exits 0 and says healthy, asking websocket_health_check over MCP', async () => {
    expect(svc!.mcpPort).toBeGreaterThan(0)
    const r = await run(process.execPath, ['bin/roomcast.js', 'status', 'workflow', ...ports(), '--timeout', '25'], 60_000)
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout.trim()).toBe(`workflow: healthy on 127.0.0.1:${svc!.port} (0 connections, 0 channels)`)
  })

  it('status exits 1 when only MCP is unreachable, saying the ws port answers', async () => {
    const nowhere = await freePort()
    const r = await run(process.execPath, ['bin/roomcast.js', 'status', 'workflow', '--port', String(svc!.port), '--mcp-port', String(nowhere), '--timeout', '25'], 60_000)
    expect(r.code).toBe(1)
    expect(r.stdout.trim()).toMatch(
      new RegExp(`^workflow: MCP unreachable at http://127\\.0\\.0\\.1:${nowhere}/mcp: connect ECONNREFUSED .*, but http://127\\.0\\.0\\.1:${svc!.port}/health answers \\(workflow, healthy\\): check mcp.port or --mcp-port$`),
    )
  })

  it('status exits 1 when the MCP endpoint belongs to another service', async () => {
    const r = await run(process.execPath, ['bin/roomcast.js', 'status', 'patterns', ...ports(), '--timeout', '25'], 60_000)
    expect(r.code).toBe(1)
    expect(r.stdout).toContain('is the MCP endpoint of workflow, not patterns')
  })

  it('roomcast mcp serves every tool over stdio, forwarding to the running service', async () => {
    const transport = new StdioClientTransport({ command: process.execPath, args: ['bin/roomcast.js', 'mcp', 'workflow', ...ports()], cwd: ROOT, stderr: 'pipe' })
    transport.stderr?.on('data', (d: Buffer) => (stdioErr += d.toString()))
    stdio = new Client({ name: 'roomcast-test', version: '0.0.0' })
    await stdio.connect(transport)
    await exerciseWorkflowTools(stdio, `ws://127.0.0.1:${svc!.port}/ws`, svc!.port)
    expect(stdioErr).toBe('')
  })

  it('once the service is gone: stdio calls are tool errors saying so, and status exits 1 saying why', async () => {
    expect(stdio, 'the stdio test ran first').toBeDefined()
    await svc!.stop()
    expect(await callErr(stdio!, 'websocket_health_check')).toMatch(
      new RegExp(`^Service workflow not reachable at http://127\\.0\\.0\\.1:${svc!.mcpPort}/mcp: .*ECONNREFUSED`),
    )
    const r = await run(process.execPath, ['bin/roomcast.js', 'status', 'workflow', ...ports(), '--timeout', '25'], 60_000)
    expect(r.code).toBe(1)
    const [ws, mcp] = [`http://127\\.0\\.0\\.1:${svc!.port}/health`, `http://127\\.0\\.0\\.1:${svc!.mcpPort}/mcp`]
    expect(r.stdout).toMatch(new RegExp(`^workflow: unreachable at ${ws}: connect ECONNREFUSED .*; MCP at ${mcp}: connect ECONNREFUSED`))
    // The proxy itself is still alive and answers the next call.
    expect((await stdio!.listTools()).tools.length).toBe(TOOL_NAMES.length)
  })

  it('status against something that is not roomcast exits 1 and says what it got', async () => {
    const http = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>hello</html>'))
    http.listen(0, '127.0.0.1')
    await once(http, 'listening')
    const port = (http.address() as AddressInfo).port
    const asMcp = await run(process.execPath, ['bin/roomcast.js', 'status', 'tests', '--mcp-port', String(port), '--timeout', '25'], 60_000)
    const nowhere = await freePort()
    const asWs = await run(process.execPath, ['bin/roomcast.js', 'status', 'tests', '--port', String(port), '--mcp-port', String(nowhere), '--timeout', '25'], 60_000)
    http.close()
    expect(asMcp.code).toBe(1)
    expect(asMcp.stdout.trim()).toBe(`tests: not a roomcast service at http://127.0.0.1:${port}/mcp: Unexpected content type: text/html`)
    expect(asWs.code).toBe(1)
    expect(asWs.stdout).toMatch(new RegExp(`^tests: not a roomcast service at http://127\\.0\\.0\\.1:${port}/health \\(HTTP 200, text/html\\); MCP at .*ECONNREFUSED`))
  })

  it('status gives up on a service that accepts but never answers, after --timeout, and exits', async () => {
    const held: Socket[] = []
    const mute = createNetServer((sock) => held.push(sock))
    mute.listen(0, '127.0.0.1')
    await once(mute, 'listening')
    const port = (mute.address() as AddressInfo).port
    // The mute server never answers: the process ending at all, with this line, is --timeout at work.
    const r = await run(process.execPath, ['bin/roomcast.js', 'status', 'workflow', '--mcp-port', String(port), '--timeout', '0.5'])
    for (const sock of held) sock.destroy()
    mute.close()
    expect(r.code).toBe(1)
    expect(r.stdout.trim()).toBe(`workflow: no answer from http://127.0.0.1:${port}/mcp within 0.5 s`)
  })

  it('status sends the api_key of the settings file; without it the service refuses and status says so', async () => {
    const keyed = await serveCli('workflow', ['--settings', 'test/fixtures/api-key.yaml'])
    try {
      const at = ['--port', String(keyed.port), '--mcp-port', String(keyed.mcpPort)]
      const ok = await run(process.execPath, ['bin/roomcast.js', 'status', 'workflow', '--settings', 'test/fixtures/api-key.yaml', ...at, '--timeout', '25'], 60_000)
      expect(ok.code, ok.stdout + ok.stderr).toBe(0)
      const refused = await run(process.execPath, ['bin/roomcast.js', 'status', 'workflow', ...at, '--timeout', '25'], 60_000)
      expect(refused.code).toBe(1)
      expect(refused.stdout).toContain(`workflow: refused at http://127.0.0.1:${keyed.mcpPort}/mcp (HTTP 401)`)
      expect(refused.stdout).toContain('Missing or invalid API key')
    } finally {
      await keyed.stop()
    }
  })

  it('serve with MCP disabled in settings: status says so and falls back to GET /health', async () => {
    const off = await serveCli('workflow', ['--settings', 'test/fixtures/mcp-disabled.yaml'])
    try {
      expect(off.mcpPort, 'no "MCP listening" log line').toBe(0)
      const r = await run(process.execPath, ['bin/roomcast.js', 'status', 'workflow', '--settings', 'test/fixtures/mcp-disabled.yaml', '--port', String(off.port), '--timeout', '25'], 60_000)
      expect(r.code, r.stdout + r.stderr).toBe(0)
      expect(r.stdout).toContain('MCP is disabled in its settings')
      expect(r.stdout).toContain(`workflow: healthy on 127.0.0.1:${off.port}`)
    } finally {
      await off.stop()
    }
  })
})

