import { describe, expect, it } from 'vitest'
import type { TestsServer } from '../../services/tests/index.js'
import type { EventCase } from '../helpers/events.js'
import { envelopeServiceSuite } from '../helpers/service-suite.js'

const CASES: EventCase[] = [
  { event: 'test.started', channel: 'test:r1', data: { run_id: 'r1', project: 'roomcast' } },
  { event: 'test.failed', channel: 'test:r1', data: { run_id: 'r1', test: 'test_x', error: 'AssertionError' } },
  { event: 'test.completed', channel: 'test:r1', data: { run_id: 'r1', passed: 9, failed: 1 } },
  { event: 'quality_gate.checked', channel: 'quality:roomcast', data: { project: 'roomcast', status: 'passed', gate: 'lint' } },
  { event: 'coverage.updated', channel: 'coverage', data: { project: 'roomcast', coverage: 87.5 } },
]

describe('tests service', () => {
  const t = envelopeServiceSuite<TestsServer>('tests', {
    welcome: 'Connected to Crackerjack quality monitoring',
    cases: CASES,
    invalid: [
      { channel: 'coverage', event: 'coverage.updated', data: { project: 'roomcast', coverage: '87%' }, names: /'coverage'/ },
      { channel: 'test:r1', event: 'test.failed', data: { run_id: 'r1', error: 'x' }, names: /'test'/ },
    ],
  })

  it('answers get_test_status from started → failed → completed', async () => {
    t.server.broadcast.testStarted({ run_id: 'r2' })
    expect((await t.client.request('get_test_status', { run_id: 'r2' })).data).toMatchObject({ run_id: 'r2', status: 'running', failed_tests: 0 })
    await t.client.request('publish', { channel: 'test:r2', event: 'test.failed', data: { run_id: 'r2', test: 'test_a', error: 'boom' } })
    t.server.broadcast.testCompleted({ run_id: 'r2', passed: 4, total: 5 })
    expect((await t.client.request('get_test_status', { run_id: 'r2' })).data).toMatchObject({
      run_id: 'r2',
      status: 'failed',
      failed_tests: 1,
      failures: [{ test: 'test_a', error: 'boom' }],
      passed: 4,
      total: 5,
    })
    t.server.broadcast.testStarted({ run_id: 'r3' })
    t.server.broadcast.testCompleted({ run_id: 'r3' })
    expect((await t.client.request('get_test_status', { run_id: 'r3' })).data).toMatchObject({ status: 'passed' })
  })

  it('answers get_quality_gate with the latest status, the gates and the coverage', async () => {
    t.server.broadcast.qualityGateChecked({ project: 'rc', status: 'passed', gate: 'lint' })
    t.server.broadcast.coverageUpdated({ project: 'rc', coverage: 81 })
    t.server.broadcast.qualityGateChecked({ project: 'rc', status: 'failed', gate: 'types' })
    expect((await t.client.request('get_quality_gate', { project: 'rc' })).data).toMatchObject({
      project: 'rc',
      status: 'failed',
      gates: { lint: 'passed', types: 'failed' },
      coverage: 81,
    })
    t.server.broadcast.qualityGateChecked({ project: 'rc', status: 'passed', gates: [{ name: 'types', status: 'passed' }, { name: 'complexity', status: 'passed' }] })
    expect((await t.client.request('get_quality_gate', { project: 'rc' })).data).toMatchObject({
      status: 'passed',
      gates: { lint: 'passed', types: 'passed', complexity: 'passed' },
    })
  })

  it('answers not_found for unknown ids and INVALID_PARAMS naming a missing one', async () => {
    expect((await t.client.request('get_test_status', { run_id: 'nope' })).data).toEqual({ run_id: 'nope', status: 'not_found' })
    expect((await t.client.request('get_quality_gate', { project: 'nope' })).data).toEqual({ project: 'nope', status: 'not_found' })
    for (const [op, field] of [['get_test_status', 'run_id'], ['get_quality_gate', 'project']] as const) {
      const err = await t.client.request(op, { [field]: '' })
      expect(err.error_code).toBe('INVALID_PARAMS')
      expect(err.error_message).toMatch(new RegExp(`'${field}'`))
    }
  })
})
