import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { TestsServer } from '../../services/tests/index.js'
import { TestClient } from '../helpers/client.js'
import { broadcastEach, type EventCase, expectEveryEventCovered, publishEach, publishError } from '../helpers/events.js'
import { startService, type Started } from '../helpers/server.js'

const CASES: EventCase[] = [
  { event: 'test.started', channel: 'test:r1', data: { run_id: 'r1', project: 'roomcast' } },
  { event: 'test.failed', channel: 'test:r1', data: { run_id: 'r1', test: 'test_x', error: 'AssertionError' } },
  { event: 'test.completed', channel: 'test:r1', data: { run_id: 'r1', passed: 9, failed: 1 } },
  { event: 'quality_gate.checked', channel: 'quality:roomcast', data: { project: 'roomcast', status: 'passed', gate: 'lint' } },
  { event: 'coverage.updated', channel: 'coverage', data: { project: 'roomcast', coverage: 87.5 } },
]

describe('tests service', () => {
  let s: Started<TestsServer>
  let c: TestClient
  beforeEach(async () => {
    s = await startService<TestsServer>('tests', { allow_client_publish: true })
    c = await TestClient.connect(s.url)
  })
  afterEach(async () => {
    await c.close()
    await s.server.close()
  })

  it('welcomes with the Crackerjack text', async () => {
    const raw = new TestClient(s.url)
    expect((await raw.next()).data).toMatchObject({ server: 'tests', message: 'Connected to Crackerjack quality monitoring' })
    await raw.close()
  })

  it('delivers every declared event published over the socket on its channel', async () => {
    expectEveryEventCovered(s.server, CASES)
    await publishEach(c, CASES)
  })

  it('routes every event of the typed broadcaster to its default channel', async () => {
    await broadcastEach(s.server, c, CASES)
  })

  it('rejects an invalid payload with INVALID_EVENT naming the field', async () => {
    const err = await publishError(c, 'coverage', 'coverage.updated', { project: 'roomcast', coverage: '87%' })
    expect(err.code).toBe('INVALID_EVENT')
    expect(err.message).toMatch(/'coverage'/)
    expect((await publishError(c, 'test:r1', 'test.failed', { run_id: 'r1', error: 'x' })).message).toMatch(/'test'/)
  })

  it('answers get_test_status from started → failed → completed', async () => {
    s.server.broadcast.testStarted({ run_id: 'r2' })
    expect((await c.request('get_test_status', { run_id: 'r2' })).data).toMatchObject({ run_id: 'r2', status: 'running', failed_tests: 0 })
    await c.request('publish', { channel: 'test:r2', event: 'test.failed', data: { run_id: 'r2', test: 'test_a', error: 'boom' } })
    s.server.broadcast.testCompleted({ run_id: 'r2', passed: 4, total: 5 })
    expect((await c.request('get_test_status', { run_id: 'r2' })).data).toMatchObject({
      run_id: 'r2',
      status: 'failed',
      failed_tests: 1,
      failures: [{ test: 'test_a', error: 'boom' }],
      passed: 4,
      total: 5,
    })
    s.server.broadcast.testStarted({ run_id: 'r3' })
    s.server.broadcast.testCompleted({ run_id: 'r3' })
    expect((await c.request('get_test_status', { run_id: 'r3' })).data).toMatchObject({ status: 'passed' })
  })

  it('answers get_quality_gate with the latest status, the gates and the coverage', async () => {
    s.server.broadcast.qualityGateChecked({ project: 'rc', status: 'passed', gate: 'lint' })
    s.server.broadcast.coverageUpdated({ project: 'rc', coverage: 81 })
    s.server.broadcast.qualityGateChecked({ project: 'rc', status: 'failed', gate: 'types' })
    expect((await c.request('get_quality_gate', { project: 'rc' })).data).toMatchObject({
      project: 'rc',
      status: 'failed',
      gates: { lint: 'passed', types: 'failed' },
      coverage: 81,
    })
    s.server.broadcast.qualityGateChecked({ project: 'rc', status: 'passed', gates: [{ name: 'types', status: 'passed' }, { name: 'complexity', status: 'passed' }] })
    expect((await c.request('get_quality_gate', { project: 'rc' })).data).toMatchObject({
      status: 'passed',
      gates: { lint: 'passed', types: 'passed', complexity: 'passed' },
    })
  })

  it('answers not_found for unknown ids and INVALID_PARAMS naming a missing one', async () => {
    expect((await c.request('get_test_status', { run_id: 'nope' })).data).toEqual({ run_id: 'nope', status: 'not_found' })
    expect((await c.request('get_quality_gate', { project: 'nope' })).data).toEqual({ project: 'nope', status: 'not_found' })
    for (const [op, field] of [['get_test_status', 'run_id'], ['get_quality_gate', 'project']] as const) {
      const err = await c.request(op, { [field]: '' })
      expect(err.error_code).toBe('INVALID_PARAMS')
      expect(err.error_message).toMatch(new RegExp(`'${field}'`))
    }
  })
})
