import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CliProcess, runCli } from '../helpers/cli.js'
import { TestDatabase } from '../helpers/postgres.js'
import { freeServicePorts } from '../helpers/supervisor.js'

let db: TestDatabase
beforeAll(async () => {
  db = await TestDatabase.create()
})
afterAll(async () => db?.drop())

describe('roomcast status context shows the PostgreSQL source (built dist/, real processes)', () => {
  const procs: CliProcess[] = []
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()))
  })

  it.each([
    ['over MCP', true],
    ['from GET /health (MCP off)', false],
  ])('%s: "postgres listening" in the status line', async (_how, mcp) => {
    const dir = mkdtempSync(join(tmpdir(), 'roomcast-ctx-status-'))
    const [wsPort, mcpPort] = (await freeServicePorts(2)) as [number, number]
    writeFileSync(join(dir, 'context.yaml'), `port: ${wsPort}\nmcp:\n  enabled: ${mcp}\n  port: ${mcpPort}\n`)
    const env = { ROOMCAST_SETTINGS_DIR: dir, DATABASE_URL: db.url }
    const p = new CliProcess(['serve', 'context'], env)
    procs.push(p)
    const port = await p.port('context')
    await p.waitFor(/listening for notifications/)
    const r = await runCli(['status', 'context', '--port', String(port)], { ROOMCAST_SETTINGS_DIR: dir })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout.trim().split('\n').at(-1)).toBe(`context: healthy on 127.0.0.1:${port} (0 connections, 0 channels; postgres listening)`)
  })
})
