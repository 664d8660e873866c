import { execFile } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { startService, type Started } from '../helpers/server.js'

const PYTHON = '/usr/bin/python3'
const SCRIPT = new URL('./python_send_request.py', import.meta.url).pathname

interface Line {
  event: string
  resolved: Record<string, unknown> | null
  ignored: Record<string, unknown>[]
}

function run(url: string): Promise<{ code: number; lines: Line[]; stderr: string }> {
  return new Promise((resolve) => {
    execFile(PYTHON, [SCRIPT, url], { timeout: 30_000 }, (err, stdout, stderr) => {
      const lines = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line)
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, lines, stderr })
    })
  })
}

describe("mcp_common WebSocketClient.send_request (id A, correlation_id B, answers matched on A)", () => {
  let s: Started
  afterEach(async () => s?.server.close())

  it('resolves with the answer, a response or an error, and a client matching on B got its own copy first', async () => {
    s = await startService('workflow')
    s.server.emit('workflow:py2', 'workflow.started', { workflow_id: 'py2' })
    const { code, lines, stderr } = await run(s.url)
    expect(code, stderr).toBe(0)
    const [status, unknown] = lines
    expect(status!.resolved).toMatchObject({ type: 'response', event: 'get_workflow_status', data: { workflow_id: 'py2', status: 'running' } })
    expect(unknown!.resolved).toMatchObject({ type: 'error', error_code: 'UNKNOWN_REQUEST', error_message: 'Unknown request event: launch_rocket' })
    // The copy under B arrived before, and this client passed it to its handlers as an unknown frame.
    expect(status!.ignored).toEqual([expect.objectContaining({ type: 'response', event: 'get_workflow_status', data: status!.resolved!.data })])
    expect(unknown!.ignored).toEqual([expect.objectContaining({ type: 'error', error_code: 'UNKNOWN_REQUEST' })])
  })
})
