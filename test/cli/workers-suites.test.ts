import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type EventMeta, RoomcastClient, RoomcastError } from '../../src/client/index.js'
import { CliProcess, PROCESS_TEST_TIMEOUT, settingsWriter } from '../helpers/cli.js'
import { probe } from '../helpers/python-probe.js'

/**
 * The envelope, flat, Python and client suites with `workers: 2`: a smoke subset of each over the
 * built CLI (the suites themselves run in-process, as one worker). Each check spans both workers:
 * the client that publishes and the one that receives sit on different workers, told apart by
 * /ws/info (every client with its worker). One workflow and one context process for the file.
 */
const settings = settingsWriter('roomcast-workers-suites-')
const WORKFLOW = settings.write(
  'workflow.yaml',
  // History on the client test's channel only: the Python probe's frames stay those of a channel without it.
  ['workers: 2', 'port: 0', 'mcp:', '  enabled: false', 'history:', "  - channel: 'workflow:w9'", '    size: 100', ''].join('\n'),
)
const CONTEXT = settings.write('context.yaml', ['workers: 2', 'port: 0', 'mcp:', '  enabled: false', ''].join('\n'))

interface Running {
  readonly proc: CliProcess
  readonly url: string
  readonly http: string
}

async function serve(service: string, file: string): Promise<Running> {
  const proc = new CliProcess(['serve', service, '--settings', file], { LOG_FORMAT: 'json' })
  const port = await proc.port(service)
  await proc.waitFor(/"msg":"every worker listening"/)
  return { proc, url: `ws://127.0.0.1:${port}/ws`, http: `http://127.0.0.1:${port}` }
}

/** The worker holding a connection, from /ws/info. */
async function workerOf(s: Running, connectionId: string | null): Promise<number> {
  const info = (await (await fetch(`${s.http}/ws/info`)).json()) as { clients: { id: string; worker: number }[] }
  return info.clients.find((c) => c.id === connectionId)?.worker ?? -1
}

const clients: RoomcastClient[] = []

/** A connected client on a worker other than `not` (reconnect until it lands there). */
async function clientOn(s: Running, dialect: 'envelope' | 'flat', not: number | null): Promise<{ c: RoomcastClient; worker: number }> {
  for (;;) {
    const c = new RoomcastClient({ url: s.url, dialect })
    clients.push(c)
    await c.connect()
    const worker = await workerOf(s, c.connectionId)
    if (worker !== not) return { c, worker }
    c.close()
    // With round-robin accept the /ws/info request took a turn: one more shifts the next socket over.
    await fetch(`${s.http}/health`)
  }
}

function publish(s: Running, channel: string, event: string, data: Record<string, unknown>): Promise<Response> {
  return fetch(`${s.http}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channel, event, data }) })
}

/** The next `n` events named `event` a client receives, with their meta. */
function collect(c: RoomcastClient, event: string, n: number): Promise<{ data: Record<string, unknown>; meta: EventMeta }[]> {
  const got: { data: Record<string, unknown>; meta: EventMeta }[] = []
  return new Promise((resolve) => {
    const off = c.on(event, (data, meta) => {
      got.push({ data, meta })
      if (got.length === n) {
        off()
        resolve(got)
      }
    })
  })
}

describe('the envelope, flat, Python and client suites pass with workers: 2 (smoke subset, built CLI)', () => {
  let workflow: Running
  let context: Running
  beforeAll(async () => {
    ;[workflow, context] = await Promise.all([serve('workflow', WORKFLOW), serve('context', CONTEXT)])
  }, PROCESS_TEST_TIMEOUT)
  afterAll(async () => {
    for (const c of clients) c.close()
    await Promise.all([workflow?.proc.stop(), context?.proc.stop()])
  })

  it('Python (mcp_common.websocket): every frame as with one process, the HTTP publish taken by either worker', async () => {
    await probe(workflow, { server: 'workflow', message: 'Connected to Mahavishnu orchestration' })
  }, PROCESS_TEST_TIMEOUT)

  it('envelope + roomcast/client: typed events published on the other worker, requests, typed errors; recovery with since on the other worker', async () => {
    const a = await clientOn(workflow, 'envelope', null)
    const b = await clientOn(workflow, 'envelope', a.worker)
    expect(await a.c.subscribe('workflow:w9')).toMatchObject({ recovered: false, position: { offset: 0 } })
    const first = collect(a.c, 'workflow.started', 1)
    // POST /publish, taken by either worker, reaches a's worker through the primary.
    expect((await publish(workflow, 'workflow:w9', 'workflow.started', { workflow_id: 'w9' })).status).toBe(200)
    const [started] = await first
    expect(started!.data).toMatchObject({ workflow_id: 'w9' })
    expect(started!.meta.position?.offset).toBe(1)
    // b's worker projected the event it observed through the primary.
    await expect.poll(() => b.c.request('get_workflow_status', { workflow_id: 'w9' }), { timeout: 20_000 }).toMatchObject({ workflow_id: 'w9', status: 'running' })
    const refused = await b.c.subscribe('nope:1').catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(RoomcastError)
    expect((refused as RoomcastError).code).toBe('INVALID_CHANNEL')
    expect(((await b.c.request('no_such_op').catch((e: unknown) => e)) as RoomcastError).code).toBe('UNKNOWN_REQUEST')
    // a leaves; two more are published; b, on the other worker, recovers them from a's position.
    a.c.close()
    for (const stage of ['s1', 's2']) expect((await publish(workflow, 'workflow:w9', 'workflow.stage_completed', { workflow_id: 'w9', stage_name: stage })).status).toBe(200)
    const missed = collect(b.c, 'workflow.stage_completed', 2)
    expect(await b.c.subscribe('workflow:w9', { since: started!.meta.position! })).toMatchObject({ recovered: true, position: { offset: 3 } })
    expect((await missed).map((e) => [e.data.stage_name, e.meta.position?.offset])).toEqual([['s1', 2], ['s2', 3]])
  }, PROCESS_TEST_TIMEOUT)

  it('flat + roomcast/client: a publish acked on one worker reaches the auto-subscribed global channel on the other, once', async () => {
    const a = await clientOn(context, 'flat', null)
    const b = await clientOn(context, 'flat', a.worker)
    expect(b.c.connectionId).toMatch(/^ws_[0-9a-z]+_/)
    const heard = collect(b.c, 'message.new', 1)
    expect(await a.c.publish('topics/t1', 'message.new', { content: 'hi' })).toMatchObject({ message_id: expect.stringMatching(/^msg_/) })
    const [got] = await heard
    expect([got!.data, got!.meta.channel]).toEqual([{ content: 'hi' }, 'topics/t1'])
    // b holds only global: the event (naming its own channel) came through global. Nothing more of it:
    // a marker published after it is the next event b hears.
    const next = collect(b.c, 'system.info', 1)
    let more = 0
    const off = b.c.on('message.new', () => more++)
    await a.c.publish('global', 'system.info', { message: 'marker' })
    await next
    off()
    expect(more).toBe(0)
  }, PROCESS_TEST_TIMEOUT)
})
