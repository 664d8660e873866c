import { describe, expect, it } from 'vitest'
import { cliProcesses, type CliProcess, PROCESS_TEST_TIMEOUT, runCli, settingsWriter } from '../helpers/cli.js'
import { RawWsClient } from '../helpers/raw-ws.js'

/**
 * With `workers: 2`, get_status gathers every worker's figures over ipc: its answer is
 * asynchronous. Answers to one connection's requests still leave in request order
 * (docs/protocol.md A.4), so a client that pipelines get_status and other requests in one write
 * gets them back in that order.
 */
const settings = settingsWriter('roomcast-workers-order-')
const TESTS = settings.write('tests.yaml', ['workers: 2', 'port: 0', 'allow_client_publish: true', 'mcp:', '  enabled: false', ''].join('\n'))
const WITH_MCP = settings.write('mcp.yaml', ['workers: 2', 'port: 0', 'mcp:', '  enabled: true', '  port: 0', ''].join('\n'))
const ENV = { LOG_FORMAT: 'json' }

async function started(p: CliProcess, service: string): Promise<number> {
  const port = await p.port(service)
  await p.waitFor(/"msg":"every worker listening"/)
  return port
}

describe('workers: 2, answers on one connection in request order (built CLI)', () => {
  const start = cliProcesses()

  it('get_status pipelined before other requests in one write: every answer in request order', async () => {
    const p = start(['serve', 'tests', '--settings', TESTS], ENV)
    const port = await started(p, 'tests')
    const c = await RawWsClient.connect(port)
    await c.next((f) => f.event === 'session.created')
    const kinds: Record<string, unknown>[] = [
      { event: 'get_status', data: {} },
      { event: 'subscribe', data: { channel: 'test:order' } },
      { event: 'nope', data: {} },
      { event: 'publish', data: { channel: 'test:order', event: 'test.started', data: { run_id: 'r' } } },
      { event: 'get_status', data: {} },
      { event: 'unsubscribe', data: { channel: 'test:order' } },
      { event: 'subscribe', data: {} },
    ]
    const n = 40
    const requests = Array.from({ length: n }, (_, i) => ({ type: 'request', correlation_id: `r${i}`, ...kinds[i % kinds.length] }))
    c.sendTexts(requests.map((r) => JSON.stringify(r)))
    const isAnswer = (f: Record<string, unknown>) => f.type === 'response' || f.type === 'error'
    await c.next(() => c.texts().filter(isAnswer).length >= n)
    const answers = c.texts().filter(isAnswer)
    expect(answers.map((f) => f.correlation_id)).toEqual(requests.map((r) => r.correlation_id))
    // They are the answers asked for: a status of both workers, the unknown request refused.
    expect(answers[0]).toMatchObject({ type: 'response', event: 'get_status', data: { workers: [expect.any(Object), expect.any(Object)] } })
    expect(answers[2]).toMatchObject({ type: 'error', error_code: 'UNKNOWN_REQUEST' })
    expect(answers[6]).toMatchObject({ type: 'error', error_code: 'INVALID_CHANNEL' })
    c.socket.destroy()
  }, PROCESS_TEST_TIMEOUT)

  it('one worker hung (SIGSTOP): roomcast status answers within its own 5 s timeout, the worker unreachable, and exits 1 (unhealthy)', async () => {
    const p = start(['serve', 'tests', '--settings', WITH_MCP], ENV)
    const port = await started(p, 'tests')
    const mcp = /"port":(\d+)[^\n]*"msg":"MCP listening"/.exec(p.stdout)
    const mcpPort = Number(mcp![1])
    const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { workers: { id: number; pid: number }[] }
    expect(health.workers).toHaveLength(2)
    const hung = health.workers[0]!.pid
    process.kill(hung, 'SIGSTOP')
    try {
      // Twice: node:cluster hands the hung worker the next connection once, whichever caller it is.
      for (let i = 0; i < 2; i++) {
        const r = await runCli(['status', 'tests', '--port', String(port), '--mcp-port', String(mcpPort)], ENV)
        const line = r.stdout.trim().split('\n').at(-1) ?? ''
        expect(line, r.stdout + r.stderr).toMatch(/^tests: unhealthy on 127\.0\.0\.1:\d+: .*2 workers \((unreachable \+ \d+|\d+ \+ unreachable) connections\)/)
        expect(r.code).toBe(1)
      }
    } finally {
      process.kill(hung, 'SIGCONT')
    }
  }, PROCESS_TEST_TIMEOUT)
})
