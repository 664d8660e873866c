import { once } from 'node:events'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { TestClient } from '../helpers/client.js'
import { allServices } from '../../services/index.js'
import { cliProcesses, PROCESS_TEST_TIMEOUT, runCli, settingsWriter } from '../helpers/cli.js'
import { ROOT } from '../helpers/supervisor.js'

const { dir, write: settingsFile } = settingsWriter('roomcast-msg-')
const SECRET = 'a-workflow-secret-of-32-characters'

describe('what the CLI says (built dist/, real processes)', { timeout: PROCESS_TEST_TIMEOUT }, () => {
  const start = cliProcesses()

  it('--version prints the version of package.json', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
    const r = await runCli(['--version'])
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(`roomcast ${version}\n`)
  })

  // The built-in services, then those declared in the shipped settings files (dhruva, excalidraw).
  const serviceNames = () => Object.keys(allServices(join(ROOT, 'settings')))
  it.concurrent.each([
    ['serve', [...serviceNames(), 'dashboard', 'all'].join(', ')],
    ['status', serviceNames().join(', ')],
  ])('%s without a service says the name is missing and prints the usage, exit 2', async (command, choices) => {
    const r = await runCli([command])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(new RegExp(`^roomcast ${command}: missing the service name \\(one of ${choices}\\)\n\nUsage:\n`))
  })

  it('an explicit --settings FILE that does not exist is an error naming it, exit 1', async () => {
    const r = await runCli(['serve', 'workflow', '--settings', 'no-such-file.yaml'])
    expect(r.code).toBe(1)
    expect(r.stderr).toBe(`Invalid settings (${resolve(ROOT, 'no-such-file.yaml')}):\n  - file not found\n`)
  })

  it('a missing default settings file (ROOMCAST_SETTINGS_DIR) still means defaults', async () => {
    const p = start(['serve', 'workflow', '--port', '0'], { ROOMCAST_SETTINGS_DIR: mkdtempSync(join(tmpdir(), 'roomcast-empty-')) })
    await p.port('workflow')
  })

  it("auth.required without a secret is listed with the schema's problems, naming file and key, no log line, exit 1", async () => {
    const file = settingsFile('auth.yaml', 'auth:\n  required: true\n  colour: blue\nmax_connections: -1\n')
    const r = await runCli(['serve', 'workflow', '--settings', file])
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr.split('\n')).toEqual([
      `Invalid settings (${file}):`,
      '  - max_connections: Too small: expected number to be >0',
      '  - auth.colour: unknown key; auth takes required, secret, timeout, expiry_warning, token_secret',
      '  - auth.secret: required when auth.required is true (or set WORKFLOW_JWT_SECRET)',
      '',
    ])
  })

  it('public_channels naming a private channel (or none) is listed with the schema\'s problems, naming file and key, exit 1', async () => {
    const file = settingsFile('public.yaml', 'public_channels: ["agents/{id}", "global", "agents/*", "nope/x"]\nmax_connections: -1\n')
    const r = await runCli(['serve', 'context', '--settings', file])
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr.split('\n')).toEqual([
      `Invalid settings (${file}):`,
      '  - max_connections: Too small: expected number to be >0',
      '  - public_channels.0: agents/{id} names the private channel agents/{id} of context (private to its {id}): a private channel cannot be public',
      '  - public_channels.2: agents/* names the private channel agents/{id} of context (private to its {id}): a private channel cannot be public',
      '  - public_channels.3: nope/x matches none of the channels of context (global, metrics, agents/{id}, sessions/{id}, topics/{topic})',
      '',
    ])
    const workflow = settingsFile('public-workflow.yaml', 'public_channels: ["goal-teams:alice"]\n')
    expect((await runCli(['serve', 'workflow', '--settings', workflow])).stderr).toMatch(/^ {2}- public_channels\.0: goal-teams:alice names the private channel goal-teams:\{user\} of workflow/m)
  })

  it('a port in use: one line with the service, the port and how to pick another, nothing on stdout, exit 1', async () => {
    const p = start(['serve', 'tests', '--port', '0'])
    const port = await p.port('tests')
    const r = await runCli(['serve', 'tests', '--port', String(port)])
    expect(r.code).toBe(1)
    expect(r.stderr).toBe(
      `roomcast: cannot start tests: port ${port} on 127.0.0.1 is already in use (another roomcast?); pick another with --port N or ROOMCAST_TESTS_PORT=N\n`,
    )
    expect(r.stdout).not.toMatch(/drained|"level":50/)
  })

  it('its MCP port in use: one line naming mcp.port, exit 1', async () => {
    const p = start(['serve', 'tests', '--port', '0'])
    const port = await p.port('tests')
    const r = await runCli(['serve', 'tests', '--port', String(port + 10)])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(new RegExp(`^roomcast: cannot start tests: port ${port} on 127\\.0\\.0\\.1 is already in use .*set mcp\\.port in the settings, or mcp\\.enabled: false\n$`))
    expect(r.stdout).not.toMatch(/drained|"level":50/)
  })

  it('token <service> signs with the secret the server reads (<SERVICE>_JWT_SECRET): the server accepts it', async () => {
    const env = { WORKFLOW_JWT_SECRET: SECRET }
    const p = start(['serve', 'workflow', '--port', '0', '--settings', settingsFile('required.yaml', 'auth:\n  required: true\n')], env)
    const port = await p.port('workflow')
    const minted = await runCli(['token', 'workflow', '--user', 'alice', '--permissions', 'workflow:read'], env)
    expect(minted.code).toBe(0)
    expect(minted.stderr).toBe('')
    const c = new TestClient(`ws://127.0.0.1:${port}/ws`)
    await once(c.ws, 'open')
    c.send({ type: 'request', event: 'auth', data: { token: minted.stdout.trim() }, correlation_id: 'a1' })
    expect((await c.next((f) => f.correlation_id === 'a1')).data).toMatchObject({ status: 'authenticated', user_id: 'alice' })
    await c.close()
  })

  it('token <service> reads auth.secret of --settings; without any secret it says where to put one, exit 2', async () => {
    const withSecret = await runCli(['token', 'session', '--user', 'bob', '--settings', settingsFile('secret.yaml', `auth:\n  secret: ${SECRET}\n`)])
    expect(withSecret.code).toBe(0)
    expect(withSecret.stdout).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/)
    const none = await runCli(['token', 'session', '--user', 'bob'], { ROOMCAST_SETTINGS_DIR: dir, SESSION_JWT_SECRET: '', ROOMCAST_JWT_SECRET: '' })
    expect(none.code).toBe(2)
    expect(none.stderr).toMatch(
      new RegExp(`^roomcast token: no JWT secret for session: set SESSION_JWT_SECRET or auth\\.secret in ${join(dir, 'session.yaml')}, or pass --secret S\n`),
    )
  })

  it('the old ROOMCAST_JWT_SECRET still signs, with a deprecation note on stderr only', async () => {
    const r = await runCli(['token', '--user', 'carol'], { ROOMCAST_JWT_SECRET: SECRET })
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/)
    expect(r.stderr).toMatch(/ROOMCAST_JWT_SECRET is deprecated/)
  })

  it('logs: JSON lines when piped, readable lines with LOG_FORMAT=pretty', async () => {
    const json = start(['serve', 'tests', '--port', '0'])
    await json.port('tests')
    expect(json.logs().map((l) => l.msg)).toContain('listening')
    const pretty = start(['serve', 'tests', '--port', '0'], { LOG_FORMAT: 'pretty' })
    await pretty.waitFor(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: tests: listening \{"host":"127\.0\.0\.1","port":\d+/m)
    expect(pretty.stdout).not.toMatch(/^\{/m)
    expect(await pretty.signal('SIGTERM')).toBe(0)
    expect(pretty.stdout).toMatch(/INFO: shutting down \{"signal":"SIGTERM"\}/)
  })

  it('a bad LOG_FORMAT is a settings problem like any other', async () => {
    const r = await runCli(['serve', 'tests'], { LOG_FORMAT: 'xml' })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^ {2}- log_format: /m)
  })
})
