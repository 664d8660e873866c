import { Agent, request } from 'node:http'
import { describe, expect, it } from 'vitest'
import { cliProcesses, type CliProcess, PROCESS_TEST_TIMEOUT, runCli, settingsWriter } from '../helpers/cli.js'
import { type Frame, TestClient } from '../helpers/client.js'
import { FlatClient } from '../helpers/flat.js'

/**
 * `workers: 2` seen from outside: one service. Whichever worker takes a request, /health, /stats,
 * /ws/info, get_status, the MCP tools and `roomcast status` answer for every worker with a
 * per-worker breakdown; MCP publishes entering either worker reach everyone once; the context
 * service without Redis keeps one metrics publisher and restores subscriptions and hands over
 * tracked deliveries across workers. The workers accept round-robin here, and a test tells which
 * worker holds a connection from /ws/info (every client with its worker).
 */
const settings = settingsWriter('roomcast-workers-service-')
// Round-robin accept (not the default `shared`): these cases count on consecutive connections
// alternating between the two workers, so that two requests reach both.
const TESTS = settings.write('tests.yaml', ['workers: 2', 'workers_accept: round-robin', 'port: 0', 'allow_client_publish: true', 'mcp:', '  enabled: true', '  port: 0', ''].join('\n'))
const CONTEXT = settings.write(
  'context.yaml',
  ['workers: 2', 'workers_accept: round-robin', 'port: 0', 'mcp:', '  enabled: false', 'context:', '  metrics_interval: 0.5', 'delivery:', '  ack_timeout: 60', ''].join('\n'),
)
const ENV = { LOG_FORMAT: 'json' }

/** The ws and MCP ports once the primary says every worker listens. */
async function started(p: CliProcess, service: string): Promise<{ host: string; port: number; mcpPort: number }> {
  const port = await p.port(service)
  await p.waitFor(/"msg":"every worker listening"/)
  const mcp = /"port":(\d+)[^\n]*"msg":"MCP listening"/.exec(p.stdout)
  return { host: `127.0.0.1:${port}`, port, mcpPort: mcp === null ? 0 : Number(mcp[1]) }
}

type Json = Record<string, unknown>

/** A GET or POST on a connection of its own (`agent`, or a fresh one): round-robin picks the worker. */
function http(port: number, path: string, body: unknown = undefined, agent: Agent | false = false): Promise<{ status: number; json: Json }> {
  return new Promise((resolve, reject) => {
    const headers = body === undefined ? {} : { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }
    const req = request({ host: '127.0.0.1', port, path, method: body === undefined ? 'GET' : 'POST', agent, headers }, (res) => {
      let text = ''
      res.on('data', (chunk: Buffer) => (text += chunk.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Json }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body === undefined ? undefined : JSON.stringify(body))
  })
}

/** One MCP tool call (stateless streamable HTTP: one POST), its structured result. */
async function mcp(port: number, name: string, args: Json, agent: Agent): Promise<Json> {
  const { json } = await http(port, '/mcp', { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } }, agent)
  const result = json.result as { structuredContent?: Json; isError?: boolean } | undefined
  if (result?.structuredContent === undefined || result.isError === true) throw new Error(`MCP ${name} failed: ${JSON.stringify(json)}`)
  return result.structuredContent
}

/** The worker holding each client id, from /ws/info (any worker answers for all). */
async function workerOf(port: number, clientIds: readonly string[]): Promise<Map<string, number>> {
  const info = await http(port, '/ws/info')
  const rows = info.json.clients as { id: string; worker: number }[]
  return new Map(clientIds.map((id) => [id, rows.find((r) => r.id === id)?.worker ?? -1]))
}

/** The subscriptions of one client, as /ws/info shows them. */
async function subscriptionsOf(port: number, clientId: string): Promise<string[]> {
  const rows = (await http(port, '/ws/info')).json.clients as { id: string; subscriptions: string[] }[]
  return rows.find((r) => r.id === clientId)?.subscriptions ?? []
}

/** Waits (polling /ws/info, bounded) until `clientId` holds `channel`. */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setImmediate(r))
  }
}

describe('workers: 2 is one service to the outside (built CLI)', () => {
  const start = cliProcesses()

  it('/health, /stats, /ws/info, get_status, the MCP tools and roomcast status answer for both workers, whichever takes the request; an MCP publish entering either worker reaches every subscriber once', async () => {
    const p = start(['serve', 'tests', '--settings', TESTS], ENV)
    const { host, port, mcpPort } = await started(p, 'tests')
    const subs = await Promise.all(Array.from({ length: 4 }, () => TestClient.connect(`ws://${host}/ws`)))
    for (const s of subs) await s.subscribe('test:mcp')
    // Every subscriber's worker, from any worker's /ws/info: both workers hold subscribers.
    const info = (await http(port, '/ws/info')).json
    const rows = info.clients as { worker: number; subscriptions: string[] }[]
    expect(rows).toHaveLength(4)
    expect(new Set(rows.map((r) => r.worker)).size).toBe(2)
    expect(info.channels).toEqual({ 'test:mcp': 4 })

    // Four MCP callers, each on a connection of its own: round-robin hands them to both workers.
    const answeredBy = new Set<unknown>()
    for (let i = 0; i < 4; i++) {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 })
      try {
        answeredBy.add((await mcp(mcpPort, 'websocket_status', {}, agent)).instance_id)
        expect(await mcp(mcpPort, 'ws_publish', { channel: 'test:mcp', event: 'test.started', data: { run_id: 'mcp', i } }, agent)).toMatchObject({ delivered: 4, instances: 2 })
      } finally {
        agent.destroy()
      }
    }
    expect(answeredBy.size).toBe(2)
    const isMcp = (f: Frame) => f.type === 'event' && f.room === 'test:mcp'
    for (const s of subs) {
      const got = [await s.next(isMcp), await s.next(isMcp), await s.next(isMcp), await s.next(isMcp)]
      expect(got.map((f) => f.data?.i).sort()).toEqual([0, 1, 2, 3])
      await s.alive()
      expect(s.pending.filter(isMcp)).toEqual([])
    }

    // /health and /stats from both workers: the service's totals and the same two workers.
    // (Consecutive connections alternate between the workers: two of each route reach both.)
    const pids = new Set<number>()
    const answering = new Set<unknown>()
    for (let i = 0; i < 2; i++) {
      const health = await http(port, '/health')
      expect(health.status).toBe(200)
      expect(health.json).toMatchObject({ status: 'healthy', connectedClients: 4, activeChannels: 1 })
      const workers = health.json.workers as { id: number; pid: number; connections: number; status: string }[]
      expect(workers).toHaveLength(2)
      expect(workers.reduce((n, w) => n + w.connections, 0)).toBe(4)
      for (const w of workers) pids.add(w.pid)
      answering.add(health.json.instance_id)
    }
    expect(pids.size).toBe(2)
    expect(answering.size).toBe(2)
    for (let i = 0; i < 2; i++) {
      const stats = (await http(port, '/stats')).json
      expect(stats).toMatchObject({ connections: { current: 4 }, deliveries: 16, channels: { 'test:mcp': 4 } })
      expect(stats.workers).toHaveLength(2)
    }

    // The other MCP status tools and get_status over the socket.
    const agent = new Agent({ keepAlive: false })
    expect(await mcp(mcpPort, 'websocket_health_check', {}, agent)).toMatchObject({ status: 'healthy', connections: 4, rooms: 1, workers: [expect.any(Object), expect.any(Object)] })
    expect(await mcp(mcpPort, 'websocket_get_metrics', {}, agent)).toMatchObject({ connections: { current: 4 }, deliveries: 16 })
    expect(await mcp(mcpPort, 'list_ws_channels', {}, agent)).toMatchObject({ channels: [{ channel: 'test:mcp', subscribers: 4 }] })
    expect(await mcp(mcpPort, 'list_ws_clients', {}, agent)).toMatchObject({ count: 4, total: 4 })
    const status = await subs[0]!.request('get_status', {})
    expect(status.data).toMatchObject({ connections: 4, channels: 1, workers: [expect.any(Object), expect.any(Object)] })

    const r = await runCli(['status', 'tests', '--port', String(port), '--mcp-port', String(mcpPort), '--timeout', '60'], ENV)
    expect(r.stdout.trim().split('\n').at(-1), r.stdout + r.stderr).toMatch(/^tests: healthy on 127\.0\.0\.1:\d+ \(4 connections, 1 channels; ipc connected, 2 instances; 2 workers \([1-3] \+ [1-3] connections\)\)$/)
  }, PROCESS_TEST_TIMEOUT)

  it('context without Redis: one metric.update per interval for the whole service; an agent’s subscriptions and its pending tracked delivery follow it to the other worker', async () => {
    const p = start(['serve', 'context', '--settings', CONTEXT], ENV)
    const { host, port } = await started(p, 'context')
    const url = `ws://${host}/ws`

    /** Connects as `agent` until the connection lands on a worker `want` accepts. */
    async function openOn(want: (worker: number) => boolean, query: Record<string, string> = {}): Promise<{ c: FlatClient; worker: number }> {
      for (;;) {
        const c = await FlatClient.open(url, query)
        const id = c.connected?.client_id as string
        const worker = (await workerOf(port, [id])).get(id) ?? -1
        if (want(worker)) return { c, worker }
        await c.close()
        // Round-robin counts every connection: the /ws/info above took one, so one more shifts the next socket over.
        await http(port, '/health')
      }
    }

    // One metrics watcher on each worker.
    const first = await openOn(() => true)
    const second = await openOn((w) => w !== first.worker)
    for (const { c } of [first, second]) expect(await c.subscribeFlat('metrics')).toMatchObject({ success: true })
    const updates = async (c: FlatClient, n: number) => {
      const got: Frame[] = []
      while (got.length < n) got.push(await c.event('metric.update', 'metrics', 15_000))
      return got
    }
    const [a, b] = await Promise.all([updates(first.c, 4), updates(second.c, 4)])
    // One publisher for the service (the lock is the primary's), reporting both workers' figures.
    expect(new Set([...a, ...b].map((f) => f.data?.publisher)).size).toBe(1)
    expect(a.at(-1)?.data).toMatchObject({ instances: 2 })
    for (const got of [a, b]) expect(new Set(got.map((f) => f.id)).size).toBe(got.length)
    expect(a.map((f) => f.id).filter((id) => b.some((g) => g.id === id)).length).toBeGreaterThanOrEqual(3)

    // Restore: dana subscribes on one worker, comes back on the other, and holds the topic again.
    const dana = await openOn(() => true, { agent_id: 'dana' })
    expect(await dana.c.subscribeFlat('topics/deploys')).toMatchObject({ success: true })
    // A tracked event for her, received and not acked: pending on that worker.
    const sent = await http(port, '/publish', { channel: 'agents/dana', event: 'task.created', data: { task_id: 't1' } })
    expect(sent.status).toBe(200)
    const original = await dana.c.event('task.created', 'agents/dana')
    await dana.c.close()
    const back = await openOn((w) => w !== dana.worker, { agent_id: 'dana' })
    const backId = back.c.connected?.client_id as string
    // Handed over by the worker that held it: the same event, the same id, on the other worker.
    const again = await back.c.event('task.created', 'agents/dana')
    expect([again.id, again.data]).toEqual([original.id, { task_id: 't1' }])
    back.c.send({ type: 'ack', message_id: again.id })
    await back.c.pingFlat()
    await until(async () => (await subscriptionsOf(port, backId)).includes('topics/deploys'), 'dana’s topics/deploys restored on the other worker')
    const stats = (await http(port, '/stats')).json
    expect(stats.delivery).toMatchObject({ handed_over: 1, adopted: 1, pending: 0 })
    await http(port, '/publish', { channel: 'topics/deploys', event: 'task.completed', data: { task_id: 'r1' } })
    expect((await back.c.event('task.completed', 'topics/deploys')).data).toEqual({ task_id: 'r1' })
    for (const c of [first.c, second.c, back.c]) await c.close()
  }, PROCESS_TEST_TIMEOUT)
  it('context without Redis: a worker SIGKILLed with an agent’s unacked tracked events — the agent reconnects and gets each again with its id (the primary keeps the record, A.8)', async () => {
    const p = start(['serve', 'context', '--settings', CONTEXT], ENV)
    const { host, port } = await started(p, 'context')
    const url = `ws://${host}/ws`
    const erin = await FlatClient.open(url, { agent_id: 'erin' })
    const erinId = erin.connected?.client_id as string
    const worker = (await workerOf(port, [erinId])).get(erinId)
    const health = (await http(port, '/health')).json
    const pid = (health.workers as { id: number; pid: number }[]).find((w) => w.id === worker)?.pid
    expect(pid, JSON.stringify(health.workers)).toBeGreaterThan(0)
    expect((await http(port, '/stats')).json.delivery).toMatchObject({ durable: 'primary' })
    const ids: string[] = []
    for (let i = 0; i < 5; i++) {
      expect((await http(port, '/publish', { channel: 'agents/erin', event: 'task.created', data: { task_id: `k${i}` } })).status).toBe(200)
      ids.push((await erin.event('task.created', 'agents/erin')).id as string)
    }
    // Not acked: pending on that worker only. It dies without a word; the primary starts another.
    const closed = erin.closed
    process.kill(pid!, 'SIGKILL')
    await closed
    const back = await FlatClient.open(url, { agent_id: 'erin' })
    const again: Frame[] = []
    while (again.length < 5) again.push(await back.event('task.created', 'agents/erin', 20_000))
    expect(again.map((f) => f.id)).toEqual(ids)
    expect(again.map((f) => f.data?.task_id)).toEqual(['k0', 'k1', 'k2', 'k3', 'k4'])
    for (const f of again) back.send({ type: 'ack', message_id: f.id })
    await back.pingFlat()
    const delivery = (await http(port, '/stats')).json.delivery as Record<string, unknown>
    expect(delivery.adopted).toBeGreaterThanOrEqual(5)
    expect(delivery.pending).toBe(0)
    await back.close()
  }, PROCESS_TEST_TIMEOUT)
})
