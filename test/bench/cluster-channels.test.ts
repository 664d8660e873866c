import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'

const run = promisify(execFile)

interface Proc {
  label: string
  role: 'master' | 'replica' | 'single'
  slots: number
}
interface Run {
  variant: string
  processes: Proc[]
  result: {
    failed?: string
    lost: number
    published: number
    commandCalls: Record<string, { publish: number; spublish: number; evalsha: number }>
    busReceived: Record<string, number>
    window: { redisProcessCpu: Record<string, number> }
  }
}

/** Per process, the publications it handled (entering as a command or over the cluster bus) ÷ all publications. */
function handled(r: Run['result']): Record<string, number> {
  const entering = (l: string) => {
    const c = r.commandCalls[l]
    return c === undefined ? 0 : c.publish + c.spublish + c.evalsha
  }
  const labels = Object.keys(r.commandCalls)
  const total = labels.reduce((a, l) => a + entering(l), 0)
  return Object.fromEntries(labels.map((l) => [l, (entering(l) + (r.busReceived[l] ?? 0)) / total]))
}

// A smoke check of bench/cluster-channels.mjs (docs/performance.md, "Redis Cluster"): the bench
// builds a real cluster of three masters with a replica each, and its counters show what the
// bench is for: SPUBLISH leaves each master (and its replica) a part of the publications, plain
// PUBLISH makes every node handle every one. Redis alone (no roomcast), a short window.
describe('bench/cluster-channels.mjs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'roomcast-cluster-bench-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('starts a 3-master cluster with replicas and counts where each publication went', { timeout: 300_000 }, async () => {
    const out = join(dir, 'run.json')
    await run(process.execPath, ['bench/cluster-channels.mjs', '--variants', 'spublish,publish', '--rounds', '1', '--subs', '300', '--script-rate', '300', '--warmup', '300', '--measure', '1500', '--no-pin', '--out', out], { cwd: process.cwd() })
    const { results } = JSON.parse(readFileSync(out, 'utf8')) as { results: Run[] }
    const sharded = results.find((r) => r.variant === 'spublish')
    const plain = results.find((r) => r.variant === 'publish')
    expect(sharded?.result.failed).toBeUndefined()
    expect(plain?.result.failed).toBeUndefined()
    if (sharded === undefined || plain === undefined) return

    const masters = sharded.processes.filter((p) => p.role === 'master')
    expect(masters.map((p) => p.label)).toEqual(['m1', 'm2', 'm3'])
    expect(sharded.processes.filter((p) => p.role === 'replica').map((p) => p.label)).toEqual(['r1', 'r2', 'r3'])
    expect(masters.reduce((a, p) => a + p.slots, 0)).toBe(16384)
    expect(sharded.result.lost).toBe(0)
    expect(plain.result.lost).toBe(0)

    // SPUBLISH: the masters share the publications (each well under all of them, together all of
    // them), and each replica gets what its master got.
    const s = handled(sharded.result)
    const mastersTogether = (s.m1 ?? 0) + (s.m2 ?? 0) + (s.m3 ?? 0)
    expect(mastersTogether).toBeCloseTo(1, 5)
    for (const i of [1, 2, 3]) {
      expect(s[`m${i}`]).toBeGreaterThan(0.2)
      expect(s[`m${i}`]).toBeLessThan(0.5)
      expect(Math.abs((s[`r${i}`] ?? 0) - (s[`m${i}`] ?? 0))).toBeLessThan(0.05)
    }
    // Plain PUBLISH: every master and every replica handles every publication.
    for (const [label, share] of Object.entries(handled(plain.result))) expect(share, label).toBeGreaterThan(0.95)
    // Every process's CPU was sampled over the window.
    expect(Object.keys(sharded.result.window.redisProcessCpu).sort()).toEqual(['m1', 'm2', 'm3', 'r1', 'r2', 'r3'])
  })
})
