import { existsSync, readFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import { cliProcesses, type CliProcess, PROCESS_TEST_TIMEOUT, runCli, settingsWriter } from '../helpers/cli.js'
import { type Frame, TestClient } from '../helpers/client.js'

const settings = settingsWriter('roomcast-workers-')
const FILE = settings.write(
  'tests.yaml',
  ['workers: 2', 'port: 0', 'allow_client_publish: true', 'message_rate_limit: 10000', 'mcp:', '  enabled: false', 'history:', "  - channel: 'test:{run_id}'", '    size: 1000', ''].join('\n'),
)
const ENV = { LOG_FORMAT: 'json' }

/** The service's URL once the primary says every worker listens. */
async function started(p: CliProcess): Promise<string> {
  const port = await p.port('tests')
  await p.waitFor(/"msg":"every worker listening"/)
  // A worker's own log line may come after its ready message reached the primary.
  await p.waitFor(/"worker":\d+[^\n]*"msg":"listening"[\s\S]*"worker":\d+[^\n]*"msg":"listening"/)
  return `127.0.0.1:${port}`
}

const publishFrame = (run: string, i: number | string) => ({ type: 'request', event: 'publish', data: { channel: `test:${run}`, event: 'test.started', data: { run_id: run, i } }, correlation_id: `p-${run}-${i}` })
const isEvent = (run: string) => (f: Frame) => f.type === 'event' && f.room === `test:${run}`

/** The next `n` events of `run` a client receives, in order. */
async function events(c: TestClient, run: string, n: number): Promise<Frame[]> {
  const got: Frame[] = []
  while (got.length < n) got.push(await c.next(isEvent(run), 15_000))
  return got
}

/** The pids of the workers, from their `listening` lines. */
function workerPids(p: CliProcess): number[] {
  return p.logs().filter((l) => l.msg === 'listening' && l.worker !== undefined).map((l) => l.pid as number)
}

describe('roomcast serve with workers: 2 (one port, a primary and two workers)', () => {
  const start = cliProcesses()

  it('a publish entering any worker (socket, HTTP POST /publish) reaches every subscriber on every worker exactly once', async () => {
    const p = start(['serve', 'tests', '--settings', FILE], ENV)
    const host = await started(p)
    // Four subscribers: whichever worker takes each, the publishes reach every one once.
    const subs = await Promise.all(Array.from({ length: 4 }, () => TestClient.connect(`ws://${host}/ws`)))
    for (const s of subs) await s.subscribe('test:fan')
    const pubs = [await TestClient.connect(`ws://${host}/ws`), await TestClient.connect(`ws://${host}/ws`)]
    for (const [i, c] of pubs.entries()) expect((await c.request('publish', publishFrame('fan', i).data)).data).toMatchObject({ status: 'published' })
    const res = await fetch(`http://${host}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(publishFrame('fan', 'http').data) })
    expect(res.status).toBe(200)
    for (const s of subs) {
      const got = await events(s, 'fan', 3)
      expect(got.map((f) => f.data?.i).sort()).toEqual([0, 1, 'http'])
      await s.alive()
      expect(s.pending.filter(isEvent('fan'))).toEqual([])
    }
    expect(new Set(workerPids(p)).size).toBe(2)
  }, PROCESS_TEST_TIMEOUT)

  it('history offsets stay strictly consecutive across workers under a publish storm; after a worker is SIGKILLed it is restarted and its clients recover with since', async () => {
    const p = start(['serve', 'tests', '--settings', FILE], ENV)
    const host = await started(p)
    const watchers = [await TestClient.connect(`ws://${host}/ws`), await TestClient.connect(`ws://${host}/ws`)]
    for (const w of watchers) await w.subscribe('test:storm')
    const storm = [await TestClient.connect(`ws://${host}/ws`), await TestClient.connect(`ws://${host}/ws`)]
    const each = 100
    for (let i = 0; i < each; i++) for (const [k, c] of storm.entries()) c.send(publishFrame('storm', `${k}-${i}`))
    let last: { offset: unknown; epoch: unknown } = { offset: null, epoch: null }
    for (const w of watchers) {
      const got = await events(w, 'storm', 2 * each)
      expect(got.map((f) => f.offset)).toEqual(Array.from({ length: 2 * each }, (_, i) => i + 1))
      last = { offset: got.at(-1)?.offset, epoch: got.at(-1)?.epoch }
    }
    // Kill one worker: its clients are cut, the primary restarts it.
    const [victim] = workerPids(p)
    process.kill(victim!, 'SIGKILL')
    await p.waitFor(/"msg":"worker died: restarting it"/)
    // Published while a worker is down: it reaches the stream all the same (the other worker takes it).
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`http://${host}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(publishFrame('storm', `late-${i}`).data) })
      expect(res.status).toBe(200)
    }
    await p.waitFor(new RegExp(`"pid":(?!${victim})\\d+,[^\\n]*"worker":3[^\\n]*"msg":"listening"`))
    const back = await TestClient.connect(`ws://${host}/ws`)
    const answer = await back.request('subscribe', { channel: 'test:storm', since: last })
    expect(answer.data).toMatchObject({ recovered: true, offset: 2 * each + 3 })
    const replayed = await events(back, 'storm', 3)
    expect(replayed.map((f) => [f.offset, f.data?.i])).toEqual([0, 1, 2].map((i) => [2 * each + 1 + i, `late-${i}`]))
  }, PROCESS_TEST_TIMEOUT)

  it('SIGTERM to the primary: every client on every worker gets 1001, and it exits 0', async () => {
    const p = start(['serve', 'tests', '--settings', FILE], ENV)
    const host = await started(p)
    const clients = await Promise.all(Array.from({ length: 4 }, () => TestClient.connect(`ws://${host}/ws`)))
    const code = await p.signal('SIGTERM')
    for (const c of clients) expect((await c.closed).code).toBe(1001)
    expect(code).toBe(0)
    expect(p.logs().filter((l) => l.msg === 'drained')).toHaveLength(2)
  }, PROCESS_TEST_TIMEOUT)

  it('/metrics on any worker counts the sum of every worker', async () => {
    const p = start(['serve', 'tests', '--settings', FILE], ENV)
    const host = await started(p)
    await Promise.all(Array.from({ length: 5 }, () => TestClient.connect(`ws://${host}/ws`)))
    // Two scrapes: round-robin hands them to both workers, and each answers for the whole service.
    for (let i = 0; i < 2; i++) {
      const text = await (await fetch(`http://${host}/metrics`)).text()
      expect(text).toMatch(/^roomcast_connections\{service="tests"\} 5$/m)
      expect(text).toMatch(/^roomcast_connections_total\{service="tests"\} 5$/m)
    }
  }, PROCESS_TEST_TIMEOUT)

  it('a primary that is killed takes its workers with it (no orphans)', async () => {
    const p = start(['serve', 'tests', '--settings', FILE], ENV)
    await started(p)
    const pids = workerPids(p)
    expect(pids).toHaveLength(2)
    p.proc.kill('SIGKILL')
    // The workers share the primary's stdout: the pipe closes (and `exited` settles) once they are gone too.
    await p.exited
    // Gone, or a zombie waiting for whoever adopted it (this container's init may not reap).
    const state = (pid: number) => (existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] : 'gone')
    for (const pid of pids) expect(['gone', 'Z']).toContain(state(pid))
  }, PROCESS_TEST_TIMEOUT)

  it('a worker that cannot bind ends the primary non-zero instead of serving with fewer workers', async () => {
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    try {
      const port = (taken.address() as AddressInfo).port
      const r = await runCli(['serve', 'tests', '--settings', FILE, '--port', String(port)], ENV)
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(new RegExp(`cannot start tests: port ${port} on 127\\.0\\.0\\.1 is already in use`))
      expect(r.stderr).toMatch(/cannot start tests: worker \d+ exited \(1\) before listening; not serving with fewer workers/)
    } finally {
      taken.close()
    }
  }, PROCESS_TEST_TIMEOUT)

  for (const accept of ['shared', 'round-robin'] as const) {
    it(`workers_accept: ${accept}: a burst of connections is taken by both workers, and a publish reaches every one once`, async () => {
      const file = settings.write(`accept-${accept}.yaml`, `${readFileSync(FILE, 'utf8')}workers_accept: ${accept}\n`)
      const p = start(['serve', 'tests', '--settings', file], ENV)
      const host = await started(p)
      expect(p.logs().find((l) => l.msg === 'starting workers')?.accept).toBe(accept)
      const subs = await Promise.all(Array.from({ length: 60 }, () => TestClient.connect(`ws://${host}/ws`)))
      for (const s of subs) await s.subscribe(`test:${accept}`)
      const health = (await (await fetch(`http://${host}/health`)).json()) as { workers: { id: number; connections: number }[] }
      const held = health.workers.map((w) => w.connections)
      expect(held).toHaveLength(2)
      expect(held.reduce((a, b) => a + b, 0)).toBe(60)
      for (const n of held) expect(n).toBeGreaterThan(0)
      const res = await fetch(`http://${host}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(publishFrame(accept, 'once').data) })
      expect(res.status).toBe(200)
      for (const s of subs) {
        expect((await events(s, accept, 1))[0]?.data?.i).toBe('once')
        await s.alive()
        expect(s.pending.filter(isEvent(accept))).toEqual([])
      }
    }, PROCESS_TEST_TIMEOUT)
  }

  it('bad workers_accept values are refused at boot naming the key and the choices', async () => {
    const file = settings.write('bad-accept.yaml', 'workers: 2\nworkers_accept: reuseport\n')
    const r = await runCli(['serve', 'tests', '--settings', file], ENV)
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/Invalid settings \(.*bad-accept\.yaml\):\n {2}- workers_accept: expected one of round-robin, shared, got 'reuseport'/)
  }, PROCESS_TEST_TIMEOUT)

  it('bad workers values are refused at boot naming the source and key; serve all refuses a service with workers', async () => {
    for (const bad of ['0', '-2', '1.5', '10000']) {
      const r = await runCli(['serve', 'tests', '--port', '0', `--workers=${bad}`], ENV)
      expect(r.code, bad).toBe(1)
      expect(r.stderr, bad).toMatch(/Invalid settings \(.*tests\.yaml\)[\s\S]*workers: expected/)
    }
    const file = settings.write('bad.yaml', 'workers: 0\n')
    const r = await runCli(['serve', 'tests', '--settings', file], ENV)
    expect(r.stderr).toMatch(/Invalid settings \(.*bad\.yaml\):\n {2}- workers: expected at least 1 worker/)
    const all = await runCli(['serve', 'all'], { ...ENV, ROOMCAST_TESTS_WORKERS: '2', ROOMCAST_SETTINGS_DIR: settings.dir })
    expect(all.code).toBe(1)
    expect(all.stderr).toMatch(/tests asks for 2 workers: workers need one program per service \(roomcast serve tests\)/)
  }, PROCESS_TEST_TIMEOUT)
})
