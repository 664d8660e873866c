import { request } from 'node:http'
import { describe, expect, it } from 'vitest'
import { cliProcesses, type CliProcess, PROCESS_TEST_TIMEOUT, settingsWriter } from '../helpers/cli.js'
import { type Frame, TestClient } from '../helpers/client.js'
import { FlatClient } from '../helpers/flat.js'

/**
 * `workers: 2` without Redis (the built CLI): presence (docs/protocol.md A.10) and observers (A.9)
 * see both workers as one service. With `workers_accept: round-robin` the primary hands out the
 * connections in turn, so a test opens connections until one lands on the worker it wants, told by
 * /ws/info (every client with its worker).
 */
const settings = settingsWriter('roomcast-workers-presence-')
// The CLI applies the context service's own defaults: presence with join/leave on sessions/{id}.
const CONTEXT = settings.write('context.yaml', ['workers: 2', 'workers_accept: round-robin', 'port: 0', 'mcp:', '  enabled: false', ''].join('\n'))
// A service without a projection (declared in YAML, no lookups): its workers hear only their own rooms, unless observed.
settings.write(
  'relay.yaml',
  [
    'workers: 2',
    'workers_accept: round-robin',
    'port: 0',
    'allow_client_publish: true',
    'mcp:',
    '  enabled: false',
    'service:',
    '  name: relay',
    '  channels:',
    '    - pattern: "feed:{id}"',
    '  events:',
    '    item.added:',
    '      schema: { type: object, required: [n], properties: { n: { type: integer } } }',
    '',
  ].join('\n'),
)
const ENV = { LOG_FORMAT: 'json' }

async function started(p: CliProcess, service: string): Promise<number> {
  const port = await p.port(service)
  await p.waitFor(/"msg":"every worker listening"/)
  return port
}

function getJson(port: number, path: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let text = ''
      res.on('data', (chunk: Buffer) => (text += chunk.toString()))
      res.on('end', () => resolve(JSON.parse(text) as Record<string, unknown>))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/** The worker holding a client, from /ws/info (any worker answers for all). */
async function workerOf(port: number, clientId: string): Promise<number> {
  const rows = (await getJson(port, '/ws/info')).clients as { id: string; worker: number }[]
  return rows.find((r) => r.id === clientId)?.worker ?? -1
}

/** Opens connections with `open` until one lands on a worker `want` accepts (the others are closed). */
async function openOn<C extends TestClient>(port: number, open: () => Promise<C>, idOf: (c: C) => string, want: (worker: number) => boolean): Promise<{ c: C; worker: number }> {
  for (let tries = 0; tries < 20; tries++) {
    const c = await open()
    const worker = await workerOf(port, idOf(c))
    if (want(worker)) return { c, worker }
    await c.close()
    // Round-robin counts every connection: the /ws/info above took one, so one more shifts the next socket over.
    await getJson(port, '/health')
  }
  throw new Error('no connection landed on the wanted worker in 20 tries')
}

/** Asks until `check` holds of the answer (a change on the other worker travels like a publication); bounded. */
async function answerUntil(c: FlatClient, frame: Record<string, unknown>, check: (ack: Frame) => boolean, timeoutMs = 20_000): Promise<Frame> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const ack = await c.op(frame)
    if (check(ack)) return ack
    if (Date.now() > end) throw new Error(`timed out waiting on ${JSON.stringify(frame)}; last answer ${JSON.stringify(ack)}`)
  }
}

describe('workers: 2 — presence and observers across the workers (built CLI)', () => {
  const start = cliProcesses()

  it('presence lists two agents on two workers, presence_stats counts 2; one leaves: a leave event and a count of 1', async () => {
    const p = start(['serve', 'context', '--settings', CONTEXT], ENV)
    const port = await started(p, 'context')
    const url = `ws://127.0.0.1:${port}/ws`
    const idOf = (c: FlatClient) => c.connected?.client_id as string
    const alice = await openOn(port, () => FlatClient.open(url, { agent_id: 'alice', session_id: 's1' }), idOf, () => true)
    const bob = await openOn(port, () => FlatClient.open(url, { agent_id: 'bob', session_id: 's1' }), idOf, (w) => w !== alice.worker)
    expect(alice.worker).not.toBe(bob.worker)

    // bob's join reaches alice on the other worker, once (openOn's discarded tries came and went too).
    const bobs = (event: string) => (f: Frame) => f.type === 'event' && f.event === event && f.channel === 'sessions/s1' && f.data?.connection_id === idOf(bob.c)
    const joined = await alice.c.next(bobs('join'), 15_000)
    expect(joined.data).toMatchObject({ user_id: 'bob', session_id: 's1' })
    for (const [c, other] of [
      [alice.c, bob.c],
      [bob.c, alice.c],
    ] as const) {
      const ack = await answerUntil(c, { type: 'presence', channel: 'sessions/s1' }, (a) => a.count === 2)
      expect(ack).toMatchObject({ success: true, channel: 'sessions/s1', count: 2, clients: 2, users: 2 })
      const members = ack.members as Frame[]
      expect(members.map((m) => m.user_id).sort()).toEqual(['alice', 'bob'])
      // Each member is held by its own worker: two instances.
      expect(new Set(members.map((m) => m.instance)).size).toBe(2)
      expect(members.find((m) => m.connection_id === idOf(other))).toBeDefined()
      expect(await c.op({ type: 'presence_stats', channel: 'sessions/s1' })).toMatchObject({ success: true, clients: 2, users: 2 })
    }

    await bob.c.close()
    const left = await alice.c.next(bobs('leave'), 15_000)
    expect(left.data).toEqual(joined.data)
    expect(await answerUntil(alice.c, { type: 'presence_stats', channel: 'sessions/s1' }, (a) => a.clients === 1)).toMatchObject({ clients: 1, users: 1 })
    const after = await alice.c.op({ type: 'presence', channel: 'sessions/s1' })
    expect(after).toMatchObject({ count: 1, members: [expect.objectContaining({ user_id: 'alice', connection_id: idOf(alice.c) })] })
    await alice.c.pingFlat()
    expect(alice.c.pending.filter((f) => bobs('join')(f) || bobs('leave')(f))).toEqual([])
    await alice.c.close()
  }, PROCESS_TEST_TIMEOUT)

  it('an observer on one worker sees, once, a publication made on the other worker to a channel only that worker reads', async () => {
    const p = start(['serve', 'relay'], { ...ENV, ROOMCAST_SETTINGS_DIR: settings.dir })
    const port = await started(p, 'relay')
    const url = `ws://127.0.0.1:${port}/ws`
    const idOf = (c: TestClient) => c.raw.map((r) => JSON.parse(r) as Frame).find((f) => f.event === 'session.created')?.data?.connection_id as string
    const observer = await openOn(port, () => TestClient.connect(url), idOf, () => true)
    const publisher = await openOn(port, () => TestClient.connect(url), idOf, (w) => w !== observer.worker)
    expect((await observer.c.request('observe', { pattern: 'feed:*' })).data).toEqual({ status: 'observing', pattern: 'feed:*' })
    await publisher.c.subscribe('feed:f1')

    const published = await publisher.c.request('publish', { channel: 'feed:f1', event: 'item.added', data: { n: 1 } })
    const id = published.data?.id as string
    const seen = await observer.c.next((f) => f.type === 'event' && f.id === id, 15_000)
    expect(seen).toMatchObject({ room: 'feed:f1', event: 'item.added', data: { n: 1 } })
    // A later publication of the same channel from the same worker comes after any copy of the first.
    const marker = (await publisher.c.request('publish', { channel: 'feed:f1', event: 'item.added', data: { n: 2 } })).data?.id as string
    await observer.c.next((f) => f.type === 'event' && f.id === marker, 15_000)
    expect(observer.c.raw.filter((r) => r.includes(id))).toHaveLength(1)
    for (const c of [observer.c, publisher.c]) await c.close()
  }, PROCESS_TEST_TIMEOUT)
})
