import { describe, expect, it } from 'vitest'
import { cliProcesses, PROCESS_TEST_TIMEOUT, settingsWriter } from '../helpers/cli.js'
import { type Frame, TestClient } from '../helpers/client.js'
import { RawWsClient } from '../helpers/raw-ws.js'

/**
 * With `workers: 2` the IPC messages one turn produces go to the primary and back as one batch
 * (src/broker/ipc-batch.ts). Publish requests that arrive in one TCP write are handled in one turn
 * of the worker that holds the publisher: every one of them must reach the subscribers on the
 * other worker too, exactly once and in order, history offsets consecutive.
 */
const settings = settingsWriter('roomcast-workers-batch-')
const FILE = settings.write(
  'tests.yaml',
  ['workers: 2', 'workers_accept: round-robin', 'port: 0', 'allow_client_publish: true', 'message_rate_limit: 10000', 'mcp:', '  enabled: false', 'history:', "  - channel: 'test:kept'", '    size: 1000', ''].join('\n'),
)
const ENV = { LOG_FORMAT: 'json' }

describe('workers: 2, many publications in one turn (built CLI)', () => {
  const start = cliProcesses()

  it('publish requests in one write reach the subscribers on both workers exactly once, in order; stored ones numbered 1..n', async () => {
    const p = start(['serve', 'tests', '--settings', FILE], ENV)
    const port = await p.port('tests')
    await p.waitFor(/"msg":"every worker listening"/)
    const subs = await Promise.all(Array.from({ length: 6 }, () => TestClient.connect(`ws://127.0.0.1:${port}/ws`)))
    for (const s of subs) {
      await s.subscribe('test:many')
      await s.subscribe('test:kept')
    }
    // Both workers hold subscribers, so whichever takes the publisher, the other one's are reached over IPC.
    const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { workers: { connections: number }[] }
    expect(health.workers.map((w) => w.connections > 0)).toEqual([true, true])

    const publisher = await RawWsClient.connect(port)
    await publisher.next((f) => f.event === 'session.created')
    const n = 300
    const channelOf = (i: number) => (i % 3 === 2 ? 'test:kept' : 'test:many')
    const requests = Array.from({ length: n }, (_, i) => ({ type: 'request', event: 'publish', correlation_id: `p${i}`, data: { channel: channelOf(i), event: 'test.started', data: { run_id: 'batch', i } } }))
    publisher.sendTexts(requests.map((r) => JSON.stringify(r)))
    const answered = (f: Record<string, unknown>) => f.type === 'response' && f.event === 'publish'
    await publisher.next(() => publisher.texts().filter(answered).length >= n)
    expect(publisher.texts().filter((f) => f.type === 'error')).toEqual([])

    const sent = (channel: string) => requests.flatMap((r, i) => (r.data.channel === channel ? [i] : []))
    const isEvent = (f: Frame) => f.type === 'event' && (f.room === 'test:many' || f.room === 'test:kept')
    for (const s of subs) {
      const got: Frame[] = []
      while (got.length < n) got.push(await s.next(isEvent, 15_000))
      expect(got.filter((f) => f.room === 'test:many').map((f) => f.data?.i)).toEqual(sent('test:many'))
      const kept = got.filter((f) => f.room === 'test:kept')
      expect(kept.map((f) => f.data?.i)).toEqual(sent('test:kept'))
      expect(kept.map((f) => f.offset)).toEqual(sent('test:kept').map((_, k) => k + 1))
      // Nothing more: a round trip after the last one brings no duplicate.
      await s.alive()
      expect(s.pending.filter(isEvent)).toEqual([])
    }
    publisher.socket.destroy()
  }, PROCESS_TEST_TIMEOUT)
})
