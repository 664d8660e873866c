import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)

// bench/lib/runner.js with a storm's warm-up (docs/performance.md, "Workers: one vs two"): the
// measured storm starts only once the server has closed its side of every warm-up connection, so
// that closing them is not counted as connecting the storm's.
const SCRIPT = `
import { runOne } from './bench/lib/runner.js'
const cfg = { connections: 300, warmConnections: 300, concurrency: 50, handshakeTimeoutMs: 15000, warmupMs: 0, measureMs: 0 }
const result = await runOne('roomcast', 'storm', cfg, { server: null, loadgen: null })
console.log(JSON.stringify(result))
`

describe('bench storm with a warm-up', () => {
  it('waits for the server to let go of the warm-up connections before the measured storm', { timeout: 120_000 }, async () => {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', SCRIPT], { cwd: process.cwd() })
    const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { connections: number; errors: number; warmSettle?: { waitedMs: number; timedOut: boolean } }
    expect(result.connections).toBe(300)
    expect(result.errors).toBe(0)
    expect(result.warmSettle?.timedOut).toBe(false)
    expect(result.warmSettle?.waitedMs).toBeGreaterThanOrEqual(0)
  })
})
