import type { JsonObject, Publication } from '../../src/index.js'
import { BoundedMap } from '../../src/util/bounded-map.js'

/** Failures kept per run; the count keeps going past it. */
const FAILURES_KEPT = 50
/** Numeric summary fields copied from test.completed when present. */
const SUMMARY_FIELDS = ['passed', 'failed', 'skipped', 'total', 'duration'] as const

interface RunState {
  status: string
  failedTests: number
  failures: { test: string; error: unknown }[]
  summary: Record<string, number>
  startedAt: string | null
  completedAt: string | null
}

interface GateState {
  status: string
  gates: Record<string, unknown>
  checkedAt: string
}

/** The status a completed run ends in: stated by the payload, else derived from its failures. */
function finalStatus(d: JsonObject, run: RunState): string {
  if (typeof d.status === 'string' && d.status.length > 0) return d.status
  if (typeof d.success === 'boolean') return d.success ? 'passed' : 'failed'
  const failed = typeof d.failed === 'number' ? d.failed : 0
  return run.failedTests > 0 || failed > 0 ? 'failed' : 'passed'
}

/** Gates named in a payload: `{lint: "passed"}` as is, or `[{name|gate, status}]` keyed by name. */
function gatesOf(value: unknown): Record<string, unknown> {
  if (Array.isArray(value)) {
    const out: Record<string, unknown> = {}
    for (const g of value as Record<string, unknown>[]) {
      const name = g?.name ?? g?.gate
      if (typeof name === 'string') out[name] = g.status ?? g
    }
    return out
  }
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {}
}

/** What the tests service remembers: latest status per run and per project's quality gate, coverage. */
export class TestsProjection {
  readonly runs: BoundedMap<string, RunState>
  readonly gates: BoundedMap<string, GateState>
  readonly coverage: BoundedMap<string, number>

  constructor(capacity = 10_000) {
    this.runs = new BoundedMap(capacity)
    this.gates = new BoundedMap(capacity)
    this.coverage = new BoundedMap(capacity)
  }

  /** Folds one delivered event into the state. Payloads were validated by the event schemas. */
  apply(pub: Publication): void {
    const d = pub.data
    if (pub.event.startsWith('test.')) return this.#applyRun(pub, String(d.run_id))
    if (pub.event === 'coverage.updated') this.coverage.set(String(d.project), d.coverage as number)
    if (pub.event === 'quality_gate.checked') {
      const key = String(d.project)
      const gates = { ...(this.gates.get(key)?.gates ?? {}) }
      Object.assign(gates, gatesOf(d.gates))
      if (typeof d.gate === 'string' && d.gate.length > 0) gates[d.gate] = d.status
      this.gates.set(key, { status: String(d.status), gates, checkedAt: pub.timestamp })
    }
  }

  #applyRun(pub: Publication, key: string): void {
    const d = pub.data
    // Events of a run whose start this instance never saw still count.
    const run = this.runs.get(key) ?? { status: 'running', failedTests: 0, failures: [], summary: {}, startedAt: null, completedAt: null }
    if (pub.event === 'test.started') {
      Object.assign(run, { status: 'running', failedTests: 0, failures: [], summary: {}, startedAt: pub.timestamp, completedAt: null })
    } else if (pub.event === 'test.failed') {
      run.failedTests++
      if (run.failures.length < FAILURES_KEPT) run.failures.push({ test: String(d.test), error: d.error })
    } else if (pub.event === 'test.completed') {
      run.status = finalStatus(d, run)
      run.completedAt = pub.timestamp
      for (const f of SUMMARY_FIELDS) if (typeof d[f] === 'number') run.summary[f] = d[f]
    }
    this.runs.set(key, run)
  }

  /** The answer of get_test_status {run_id}, or undefined for a run never seen. */
  runStatus(id: string): JsonObject | undefined {
    const run = this.runs.get(id)
    if (run === undefined) return undefined
    return {
      run_id: id,
      status: run.status,
      failed_tests: run.failedTests,
      failures: run.failures,
      ...run.summary,
      started_at: run.startedAt,
      completed_at: run.completedAt,
    }
  }

  /** The answer of get_quality_gate {project}, or undefined for a project never checked. */
  gateStatus(project: string): JsonObject | undefined {
    const gate = this.gates.get(project)
    if (gate === undefined) return undefined
    return { project, status: gate.status, gates: gate.gates, coverage: this.coverage.get(project) ?? null, checked_at: gate.checkedAt }
  }
}
