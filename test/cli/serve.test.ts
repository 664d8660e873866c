import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { TestClient } from '../helpers/client.js'
import { cliProcesses, PROCESS_TEST_TIMEOUT, runCli, settingsWriter } from '../helpers/cli.js'
import { freePort, freeServicePorts } from '../helpers/supervisor.js'

const { write: settingsFile } = settingsWriter('roomcast-cli-')

describe('roomcast CLI (built dist/, real processes)', { timeout: PROCESS_TEST_TIMEOUT }, () => {
  const start = cliProcesses()

  it('serve <service> --port 0 listens, serves a client, and SIGTERM drains with 1001 and exit 0', async () => {
    const p = start(['serve', 'workflow', '--port', '0'])
    const port = await p.port('workflow')
    const c = await TestClient.connect(`ws://127.0.0.1:${port}/ws`)
    await c.alive()
    expect(await p.signal('SIGTERM')).toBe(0)
    expect(await c.closed).toEqual({ code: 1001, reason: 'Server shutting down' })
    expect(p.logs().map((l) => l.msg)).toEqual(expect.arrayContaining(['shutting down', 'drained']))
  })

  it('SIGINT drains the same way; a client that never answers the close is cut after drain_timeout, exit 0', async () => {
    const file = settingsFile('drain.yaml', 'drain_timeout: 0.3\nlog_level: info\n')
    const p = start(['serve', 'session', '--port', '0', '--settings', file])
    const port = await p.port('session')
    const c = await TestClient.connect(`ws://127.0.0.1:${port}/`)
    c.ws.pause()
    expect(await p.signal('SIGINT')).toBe(0)
    expect(p.stdout).toContain('drain timeout: terminating remaining connections')
  })

  it('status of a service that is draining exits 1 and says it is unavailable', async () => {
    // A drain that outlasts the test (the process is SIGKILLed after it): in a fresh-clone run at
    // load 27 the status call found both ports closed, the service gone before it asked.
    const file = settingsFile('draining.yaml', 'drain_timeout: 600\n')
    const p = start(['serve', 'workflow', '--port', '0', '--settings', file])
    const port = await p.port('workflow')
    const deaf = await TestClient.connect(`ws://127.0.0.1:${port}/ws`)
    const polite = await TestClient.connect(`ws://127.0.0.1:${port}/ws`)
    deaf.ws.pause()
    p.proc.kill('SIGTERM')
    expect((await polite.closed).code).toBe(1001)
    const r = await runCli(['status', 'workflow', '--port', String(port)])
    expect(r.code).toBe(1)
    expect(r.stdout, `the service's log:\n${p.stdout}${p.stderr}`).toMatch(/^workflow: unavailable on 127\.0\.0\.1:\d+ \(HTTP 503: shutting down or overloaded\)/)
  })

  it('a second signal during the drain exits at once with 1', async () => {
    // A drain that would outlast the test: exit code 1 can only come from the second signal.
    const file = settingsFile('slow-drain.yaml', 'drain_timeout: 600\n')
    const p = start(['serve', 'workflow', '--port', '0', '--settings', file])
    const port = await p.port('workflow')
    const deaf = await TestClient.connect(`ws://127.0.0.1:${port}/ws`)
    deaf.ws.pause()
    p.proc.kill('SIGTERM')
    await p.waitFor(/"msg":"shutting down"/)
    expect(await p.signal('SIGINT')).toBe(1)
    expect(p.stdout).toContain('second signal: exiting at once')
  })

  it('serve all starts every service on its own port, those declared in settings/*.yaml too; status exits 0 for a healthy one, 1 for a stopped one', async () => {
    const names = ['tests', 'session', 'workflow', 'patterns', 'context', 'workspace', 'dhruva', 'excalidraw']
    const env: NodeJS.ProcessEnv = {}
    const ports: Record<string, number> = {}
    // Every service listens on its port and on its MCP port (port − 10): all sixteen must differ.
    const free = await freeServicePorts(names.length)
    names.forEach((n, i) => (env[`ROOMCAST_${n.toUpperCase()}_PORT`] = String((ports[n] = free[i]!))))
    const p = start(['serve', 'all'], env)
    for (const n of names) expect(await p.port(n)).toBe(ports[n])
    const ok = await runCli(['status', 'workflow', '--port', String(ports.workflow)])
    expect(ok.code).toBe(0)
    expect(ok.stdout).toMatch(/^workflow: healthy on 127\.0\.0\.1:\d+ \(0 connections, 0 channels\)/)
    const declared = await runCli(['status', 'dhruva', '--port', String(ports.dhruva)])
    expect(declared.stdout).toMatch(/^dhruva: healthy on 127\.0\.0\.1:\d+/)
    expect(await p.signal('SIGTERM')).toBe(0)
    const down = await runCli(['status', 'workflow', '--port', String(ports.workflow)])
    expect(down.code).toBe(1)
    expect(down.stdout).toMatch(/workflow: unreachable at http:\/\/127\.0\.0\.1:\d+\/health: .*ECONNREFUSED/)
  })

  it('serve all skips a service whose settings say enabled: false (ROOMCAST_SETTINGS_DIR)', async () => {
    const settingsDir = mkdtempSync(join(tmpdir(), 'roomcast-dir-'))
    writeFileSync(join(settingsDir, 'session.yaml'), 'enabled: false\n')
    const env: NodeJS.ProcessEnv = { ROOMCAST_SETTINGS_DIR: settingsDir }
    for (const n of ['tests', 'session', 'workflow', 'patterns', 'context', 'workspace']) env[`ROOMCAST_${n.toUpperCase()}_PORT`] = '0'
    const p = start(['serve', 'all'], env)
    for (const n of ['tests', 'workflow', 'patterns', 'context', 'workspace']) await p.port(n)
    expect(p.logs().filter((l) => l.msg === 'listening').map((l) => l.service)).toEqual(['tests', 'workflow', 'patterns', 'context', 'workspace'])
    expect(await p.signal('SIGTERM')).toBe(0)
  })

  it('status against something that is not roomcast exits 1 and says what it got', async () => {
    const http = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>hello</html>'))
    http.listen(0, '127.0.0.1')
    await once(http, 'listening')
    const port = (http.address() as { port: number }).port
    const r = await runCli(['status', 'tests', '--port', String(port)])
    http.close()
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(new RegExp(`tests: not a roomcast service at http://127\\.0\\.0\\.1:${port}/health \\(HTTP 200, text/html\\)`))
  })

  it('a settings file with several problems is refused, every problem listed, exit 1', async () => {
    const file = settingsFile('bad.yaml', 'port: "eighty"\nmax_connections: -1\ncolour: blue\nauth:\n  requird: true\n')
    const r = await runCli(['serve', 'workflow', '--settings', file])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`Invalid settings (${file})`)
    for (const problem of ['port:', 'max_connections:', 'colour: unknown key', 'auth.requird: unknown key']) expect(r.stderr).toContain(problem)
  })

  it('environment and YAML problems are listed together', async () => {
    const file = settingsFile('bad2.yaml', 'max_subscriptions: 0\n')
    const r = await runCli(['serve', 'workflow', '--settings', file], { ROOMCAST_WORKFLOW_PORT: 'http', REDIS_ADDR: 'nohost' })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('ROOMCAST_WORKFLOW_PORT: expected an integer, got "http"')
    expect(r.stderr).toContain('REDIS_ADDR: expected host:port, got "nohost"')
    expect(r.stderr).toContain('max_subscriptions:')
  })

  it('YAML that does not parse is refused with the parser message, exit 1', async () => {
    const file = settingsFile('broken.yaml', 'port: [1,\n')
    const r = await runCli(['serve', 'workflow', '--settings', file])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/Invalid settings .*\n {2}- YAML syntax error at line 2, column 1: /)
  })

  it('env ROOMCAST_<SERVICE>_PORT and --port set the port; --port wins', async () => {
    // MCP off: its default port (the ws port − 10) may belong to another process (a run failed on it).
    const noMcp = settingsFile('no-mcp.yaml', 'mcp:\n  enabled: false\n')
    const envPort = await freePort()
    const p = start(['serve', 'patterns', '--settings', noMcp], { ROOMCAST_PATTERNS_PORT: String(envPort) })
    expect(await p.port('patterns')).toBe(envPort)
    const flagPort = await freePort()
    const q = start(['serve', 'patterns', '--settings', noMcp, '--port', String(flagPort)], { ROOMCAST_PATTERNS_PORT: String(envPort) })
    expect(await q.port('patterns')).toBe(flagPort)
  })

  const usage: [string, string[], number, RegExp][] = [
    ['no command', [], 2, /Usage:/],
    ['an unknown command', ['launch'], 2, /Unknown command "launch"/],
    ['an unknown service', ['serve', 'nope'], 2, /Unknown service "nope"\. Services: tests, session, workflow, patterns/],
    ['serve without a service', ['serve'], 2, /roomcast serve: missing the service name/],
    ['a bad --port', ['serve', 'workflow', '--port', 'abc'], 1, /--port: expected a port number, got "abc"/],
    ['--port with serve all', ['serve', 'all', '--port', '9000'], 2, /--port, --workers and --settings apply to one service/],
    ['an unknown option', ['serve', 'workflow', '--colour', 'blue'], 2, /roomcast serve: unknown option --colour\n/],
    ['status of an unknown service', ['status', 'nope'], 2, /Unknown service "nope"/],
  ]

  it.concurrent.each(usage)('%s → its exit code and message', async (_what, args, code, message) => {
    const r = await runCli(args)
    expect(r.code).toBe(code)
    expect(r.stdout + r.stderr).toMatch(message)
  })

  it('help prints usage and exits 0', async () => {
    const r = await runCli(['help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/roomcast serve <service\|all>/)
  })
})
