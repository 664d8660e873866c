import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { expect } from 'vitest'

/**
 * The Python probe (test/compat/python_client.py, Debian python3-websockets): drives an envelope
 * service with the workflow service's names the way mcp_common.websocket does, and checks every
 * frame it saw. Used against in-process services (test/compat) and the built CLI with workers.
 */
const PYTHON = '/usr/bin/python3'
const SCRIPT = new URL('../compat/python_client.py', import.meta.url).pathname
const KEYS = ['id', 'correlation_id', 'type', 'event', 'data', 'timestamp', 'room', 'error_code', 'error_message']

interface Step {
  step: string
  kind: string
  raw: string
}

function runPython(args: string[]): Promise<{ code: number; steps: Step[]; stderr: string }> {
  return new Promise((resolve) => {
    execFile(PYTHON, [SCRIPT, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      const steps = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Step)
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, steps, stderr })
    })
  })
}

/** Where the probe connects: the service's ws URL and its HTTP base. */
export interface ProbeTarget {
  readonly url: string
  readonly http: string
}

/** Runs the probe against `s` and checks its frames; `welcome` is the data the welcome frame must carry. */
export async function probe(s: ProbeTarget, welcome: { server: string; message: string }): Promise<void> {
  expect(existsSync(PYTHON), `${PYTHON} is missing (bash .ci/run installs python3-websockets)`).toBe(true)
  const { code, steps, stderr } = await runPython([s.url, s.http])
  expect(code, stderr).toBe(0)
  expect(steps.map((x) => x.step)).toEqual(['welcome', 'subscribe', 'http_publish', 'event', 'request', 'request_by_id', 'decode_error', 'pong', 'unknown', 'unknown_by_id', 'unsubscribe', 'closed'])
  const frames = Object.fromEntries(steps.map((x) => [x.step, x]))
  const ws = steps.filter((x) => x.kind !== 'http' && x.kind !== 'close')
  for (const x of ws) {
    expect(x.kind, `${x.step} arrives as a text frame (str in Python)`).toBe('text')
    expect(Object.keys(JSON.parse(x.raw) as object), x.step).toEqual(KEYS)
    expect(x.raw, `${x.step} is compact`).toBe(JSON.stringify(JSON.parse(x.raw)))
  }
  const f = (step: string) => JSON.parse(frames[step]!.raw) as Record<string, unknown>

  expect(f('welcome')).toMatchObject({ type: 'event', event: 'session.created', data: { ...welcome, authenticated: false } })
  expect(f('subscribe')).toMatchObject({ type: 'response', event: 'subscribe', data: { status: 'subscribed', channel: 'workflow:py1' } })
  const published = JSON.parse(frames.http_publish!.raw) as { id: string; delivered: number }
  expect(published.delivered).toBe(1)
  expect(f('event')).toEqual({
    id: published.id,
    correlation_id: null,
    type: 'event',
    event: 'workflow.started',
    data: { workflow_id: 'py1' },
    timestamp: expect.stringMatching(/Z$/),
    room: 'workflow:py1',
    error_code: null,
    error_message: null,
  })
  expect(f('request')).toMatchObject({ type: 'response', event: 'get_workflow_status', correlation_id: 'c-py', data: { workflow_id: 'py1' } })
  // The same answer again under the request's own id (docs/protocol.md A.4), as mcp_common's send_request matches.
  // A second answer, made a moment later: its own timestamp (they differed by 1 ms in a CI run).
  expect(f('request_by_id')).toMatchObject({ ...f('request'), id: expect.any(String), correlation_id: expect.any(String), timestamp: expect.stringMatching(/Z$/) })
  expect(f('request_by_id').correlation_id).not.toBe('c-py')
  expect(f('unknown_by_id')).toMatchObject({ type: 'error', error_code: 'UNKNOWN_REQUEST' })
  expect(f('unknown_by_id').correlation_id).not.toBe('c-unknown')
  expect(f('decode_error')).toMatchObject({ type: 'error', error_code: 'DECODE_ERROR', correlation_id: null, error_message: 'Frame is not valid JSON' })
  expect(f('pong')).toMatchObject({ type: 'pong', data: {} })
  expect(f('pong').correlation_id).toBeTypeOf('string')
  expect(f('unknown')).toMatchObject({ type: 'error', error_code: 'UNKNOWN_REQUEST', error_message: 'Unknown request event: launch_rocket', correlation_id: 'c-unknown' })
  expect(f('unsubscribe')).toMatchObject({ type: 'response', event: 'unsubscribe', data: { status: 'unsubscribed', channel: 'workflow:py1' } })
  expect(frames.closed!.raw).toBe('1000')
}
