import { describe, expect, it } from 'vitest'
import { TestClient } from '../helpers/client.js'
import { cliProcesses, PROCESS_TEST_TIMEOUT, runCli, settingsWriter } from '../helpers/cli.js'
import { FlatClient } from '../helpers/flat.js'

describe('roomcast serve <a service declared in settings/<name>.yaml> (built dist/, real processes)', { timeout: PROCESS_TEST_TIMEOUT }, () => {
  const start = cliProcesses()

  it('serve dhruva runs the envelope service its YAML declares; status dhruva asks its MCP', async () => {
    const p = start(['serve', 'dhruva', '--port', '0'])
    const port = await p.port('dhruva')
    const mcpPort = Number((await p.waitFor(/"service":"dhruva"[^\n]*"port":(\d+)[^\n]*"msg":"MCP listening"/))[1])
    const c = await TestClient.connect(`ws://127.0.0.1:${port}/ws`, { welcome: false })
    expect(await c.next((f) => f.event === 'session.created')).toMatchObject({ data: { server: 'dhruva', message: 'Connected to Dhruva' } })
    expect(await c.subscribe('asset:a1')).toMatchObject({ type: 'response', data: { status: 'subscribed' } })
    const r = await runCli(['status', 'dhruva', '--port', String(port), '--mcp-port', String(mcpPort)])
    expect(r.stdout).toMatch(/^dhruva: /)
    expect(r.code).toBe(0)
    await c.close()
    expect(await p.signal('SIGTERM')).toBe(0)
  })

  it('serve excalidraw runs the flat service its YAML declares', async () => {
    const p = start(['serve', 'excalidraw', '--port', '0'])
    const port = await p.port('excalidraw')
    const c = await FlatClient.open(`ws://127.0.0.1:${port}/ws`, { agent_id: 'artist' })
    expect(await c.subscribeFlat('scene/s1')).toMatchObject({ success: true })
    await c.close()
    expect(await p.signal('SIGTERM')).toBe(0)
  })

  it('bad declarations: every problem at once, each naming its file and key, and nothing starts', async () => {
    const { dir, write } = settingsWriter('roomcast-declared-')
    const bad = write(
      'bad.yaml',
      `service:
  name: bad
  dialect: socketio
  channels:
    - pattern: "asset:{id"
    - pattern: "room:{id}"
    - pattern: "room:{name}"
  events:
    thing.done:
      schema: { type: sometimes }
`,
    )
    const shadow = write('shadow.yaml', 'service:\n  name: workflow\n  channels: [{ pattern: g }]\n  events: {}\n')
    const builtin = write('patterns.yaml', 'service:\n  name: patterns\n  channels: [{ pattern: g }]\n  events: {}\n')
    const clash = write('clash.yaml', 'port: 8688\nservice:\n  name: clash\n  channels: [{ pattern: g }]\n  events: {}\n')
    const r = await runCli(['serve', 'all'], { ROOMCAST_SETTINGS_DIR: dir })
    expect(r.code).toBe(1)
    const report = (file: string, ...lines: RegExp[]) => {
      const at = r.stderr.indexOf(`Invalid settings (${file})`)
      expect(at, `${file} in\n${r.stderr}`).toBeGreaterThanOrEqual(0)
      const section = r.stderr.slice(at).split('\nInvalid settings')[0]!
      for (const line of lines) expect(section).toMatch(line)
    }
    report(
      bad,
      /- service\.dialect: expected one of envelope, flat/,
      /- service\.channels\.0\.pattern: asset:\{id has an unmatched brace/,
      /- service\.channels\.2\.pattern: room:\{name\} overlaps channels\.1\.pattern \(room:\{id\}\)/,
      /- service\.events\.thing\.done\.schema: the JSON Schema does not compile/,
    )
    report(shadow, /- service\.name: workflow shadows the built-in service workflow/)
    report(builtin, /- service: patterns is a built-in service/)
    report(clash, /- port: 8688 is also the port of session/)
    expect(r.stdout).not.toMatch(/"msg":"listening"/)
  })
})
