#!/usr/bin/env node
// The chaos run (issue 24): three instances of the context service and three of the workflow
// service (workers: 2 each) on one redis-server (AOF, fsync always) with the PostgreSQL source,
// a few hundred clients of four kinds, publishers over the socket, HTTP, MCP and PostgreSQL, and
// faults on a seeded random schedule. Every publication and every receipt is recorded
// (JSONL under --out); bench/chaos/check.mjs then reports per guarantee.
//
//   npm run build && npm run chaos -- --minutes 10 [--seed 7] [--clients 300] [--rate 20]
//                                     [--faults all|none|kind,…] [--sample 60] [--out DIR] [--cluster]
//                                     [--python-procs 4] [--client-procs N]
// --cluster: a Redis Cluster of three masters with a replica each instead of one redis-server.
// The harness keeps the cluster, the publishers (HTTP, MCP, the outbox), the faults, the memory
// samples and the census. The Node clients live in --client-procs processes
// (bench/chaos/client-host.mjs; default 1 per 250 clients, at most 4), each with a slice of every
// kind, its own seeded generator (seed + 3 + its index) and its own rx-<i>.jsonl / log-<i>.jsonl;
// socket publishes, up counts and the wire figures come over IPC. The Python clients
// (--python-procs processes) write their receipts to rx-py-<i>.jsonl and their states to the
// harness; the proxies run one process each. So the harness's event loop (and each host's,
// logged as harness.lag and host.lag, worst p99 on the progress line) stays well under the
// servers' 5 s ping timeout: at 1,000 clients in one process it did not.
// --faults none --minutes 60 is the soak: heap and RSS of every process sampled every --sample s.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import { loadavg, tmpdir } from 'node:os'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { RemoteProxy } from './proxy-host.mjs'
import { Recorder, seeded } from './record.mjs'
import { Instance, Redis, RedisCluster, createOutboxDatabase, terminateListeners } from './cluster.mjs'
import { PythonClients } from './clients.mjs'
import { ClientHost } from './client-host.mjs'
import { McpPublisher, OutboxPublisher, httpPublish } from './publishers.mjs'
import { checkRun } from './check.mjs'

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    seed: { type: 'string', default: String(Date.now() % 100000) },
    clients: { type: 'string', default: '300' },
    rate: { type: 'string', default: '20' },
    faults: { type: 'string', default: 'all' }, // all, none, or a comma list of kinds (see FAULT_MIX)
    sample: { type: 'string', default: '60' },
    out: { type: 'string' },
    cluster: { type: 'boolean', default: false },
    'python-procs': { type: 'string', default: '4' }, // processes holding the Python clients' connections
    'client-procs': { type: 'string' }, // processes holding the Node clients (bench/chaos/client-host.mjs)
  },
})
const MINUTES = Number(values.minutes)
const SEED = Number(values.seed)
const CLIENTS = Number(values.clients)
const RATE = Number(values.rate)
const FAULTS = values.faults !== 'none'
const CLIENT_PROCS = Math.max(1, Number(values['client-procs'] ?? Math.min(4, Math.ceil(CLIENTS / 250))))
const OUT = values.out ?? join(tmpdir(), `roomcast-chaos-${new Date().toISOString().replace(/[:.]/g, '-')}`)
mkdirSync(OUT, { recursive: true })
const rec = new Recorder(OUT)
const trafficRandom = seeded(SEED + 1) // publications apart from the fault schedule (client hosts: SEED + 3 + i)
const uptime = () => loadavg().map((x) => x.toFixed(2)).join(' ')
const say = (msg) => console.log(`[${new Date().toISOString().slice(11, 19)} +${Math.round(rec.now() / 1000)}s load ${uptime()}] ${msg}`)

writeFileSync(join(OUT, 'run.json'), JSON.stringify({ argv: process.argv.slice(2), minutes: MINUTES, seed: SEED, clients: CLIENTS, rate: RATE, faults: values.faults, client_procs: CLIENT_PROCS, t0: rec.t0, redis: values.cluster ? 'cluster' : 'one server', started: new Date().toISOString(), load: uptime() }, null, 1))
say(`chaos run: ${MINUTES} min, seed ${SEED}, ${CLIENTS} clients, ${RATE} publications/s, faults ${values.faults}, ${values.cluster ? 'Redis Cluster' : 'one Redis'}; history in ${OUT}`)

// --- the cluster ---
const redis = values.cluster ? new RedisCluster(OUT, rec) : new Redis(OUT, rec)
await redis.start()
const db = await createOutboxDatabase()
const WORKFLOW = (redisSettings) => `host: 127.0.0.1
workers: 2
max_connections: 20000
max_connections_per_ip: 20000
message_rate_limit: 100000
byte_rate_limit: 1000000000
allow_client_publish: true
log_level: warn
ping_interval: 5
ping_timeout: 5
max_buffered_bytes: 32768
drain_timeout: 2
mcp:
  enabled: true
  port: {mcp_port}
${redisSettings}history:
  - channel: "workflow:*"
    size: 100000
    ttl: 7200
`
const CONTEXT = (redisSettings, pgUrl) => `host: 127.0.0.1
max_connections: 20000
max_connections_per_ip: 20000
message_rate_limit: 100000
log_level: warn
drain_timeout: 2
flat:
  ping_interval: 5
  heartbeat_timeout: 15
mcp:
  enabled: true
  port: {mcp_port}
${redisSettings}postgres:
  url: ${pgUrl}
`
const env = { REDIS_URL: '', REDIS_ADDR: '', DATABASE_URL: '', NODE_ENV: 'development' }
const instances = []
for (let i = 0; i < 3; i++) instances.push(new Instance({ name: `workflow-${i}`, service: 'workflow', dir: OUT, settings: WORKFLOW(redis.settings()), env, rec }))
for (let i = 0; i < 3; i++) instances.push(new Instance({ name: `context-${i}`, service: 'context', dir: OUT, settings: CONTEXT(redis.settings(), db.url), env, rec }))
await Promise.all(instances.map((x) => x.start()))
const proxies = new Map()
for (const inst of instances) {
  // Each proxy in its own process (bench/chaos/proxy-host.mjs): in this one they starved the clients.
  const p = new RemoteProxy({ port: inst.port })
  await p.listen()
  proxies.set(inst, p)
}
const wf = instances.filter((x) => x.service === 'workflow')
const ctx = instances.filter((x) => x.service === 'context')
const urlsOf = (list) => list.map((x) => `ws://127.0.0.1:${proxies.get(x).port}`)
say(`instances up: ${instances.map((x) => `${x.name}:${x.port}→proxy ${proxies.get(x).port}`).join(', ')}; ${redis.description}; database ${db.name}`)

// --- the clients ---
const nSlow = Math.max(2, Math.round(CLIENTS * 0.02))
const nAgents = Math.round(CLIENTS * 0.4)
const nRec = Math.round(CLIENTS * 0.4)
const nRawAll = Math.max(0, CLIENTS - nSlow - nAgents - nRec) // raw envelope: half Node, half real Python
const nPy = Math.round(nRawAll / 2)
const nRaw = nRawAll - nPy
const W = Math.max(4, Math.round(nRec / 5)) // history channels: ~5 recovering subscribers each
const P = Math.max(2, Math.round(nRawAll / 5)) // best-effort pool channels
const G = 5 // agent topics
const wfChannels = Array.from({ length: W }, (_, i) => `workflow:w${i}`)
const poolChannels = Array.from({ length: P }, (_, i) => `pool:p${i}`)
// Client j of each kind lives on host j % CLIENT_PROCS.
const mine = (n, i) => Array.from({ length: n }, (_, j) => j).filter((j) => j % CLIENT_PROCS === i)
const hosts = Array.from(
  { length: CLIENT_PROCS },
  (_, i) =>
    new ClientHost(
      {
        index: i,
        t0: rec.t0,
        seed: SEED + 3 + i,
        out: OUT,
        contextUrls: urlsOf(ctx),
        workflowUrls: urlsOf(wf),
        topics: G,
        agents: mine(nAgents, i),
        recovering: mine(nRec, i).map((j) => ({ i: j, ch: wfChannels[j % W] })),
        raw: mine(nRaw, i).map((j) => ({ name: `raw-${j}`, ch: poolChannels[j % P] })),
        slow: mine(nSlow, i).map((j) => ({ name: `slow-${j}`, channels: wfChannels })),
        publishers: mine(3, i).map((j) => 1000 + j),
      },
      rec,
    ),
)
const agentNames = Array.from({ length: nAgents }, (_, i) => `agent-${i}`)
const pubNames = Array.from({ length: 3 }, (_, i) => `rec-${1000 + i}`)
const hostOf = (name) => hosts[Number(name.split('-')[1]) % CLIENT_PROCS] // agent-j
const hostOfPub = (name) => hosts[(Number(name.split('-')[1]) - 1000) % CLIENT_PROCS] // rec-(1000 + j)
const py = new PythonClients({ clients: Array.from({ length: nPy }, (_, i) => ({ name: `py-${i}`, channels: [poolChannels[i % P]] })), urls: urlsOf(wf), rec, procs: Number(values['python-procs']) })
const hostPids = await Promise.all(hosts.map((h) => h.init()))
py.start()
await Promise.all(hosts.map((h) => h.start()))
rec.log('clients', { agents: nAgents, recovering: nRec, raw: nRaw, python: nPy, python_procs: py.procs, slow: nSlow, history_channels: W, pool_channels: P, client_procs: CLIENT_PROCS, client_host_pids: hostPids })
say(`clients: ${nAgents} flat agents, ${nRec} recovering (roomcast/client) on ${W} history channels, ${nRaw} raw envelope (Node) and ${nPy} Python (${py.procs} processes) on ${P} pool channels, ${nSlow} slow consumers, 3 socket publishers; Node clients in ${CLIENT_PROCS} processes`)
/** Up/open counts summed over the client hosts; with `lag`, each host's event-loop delay too. */
async function hostCounts(lag = false) {
  const all = await Promise.all(hosts.map((h) => h.counts(lag).catch(() => null)))
  const sum = { agents: 0, recovering: 0, raw: 0, publishers: 0, lags: [], missing: 0 }
  for (const c of all) {
    if (c === null) {
      sum.missing++
      continue
    }
    for (const k of ['agents', 'recovering', 'raw', 'publishers']) sum[k] += c[k]
    if (c.lag !== undefined) sum.lags.push(c.lag)
  }
  return sum
}

// --- publishers ---
const mcp = new Map(instances.map((x) => [x, new McpPublisher(x.mcpPort)]))
const outbox = new OutboxPublisher(db.url)
let uidSeq = 0
let inFlight = 0
const pick = (arr) => arr[Math.floor(trafficRandom() * arr.length)]
const MIX = [
  // [weight, kind]
  [14, 'wf-socket'], [14, 'wf-http'], [6, 'wf-mcp'],
  [8, 'pool-http'], [6, 'pool-socket'],
  [10, 'agent-http'], [6, 'agent-mcp'], [10, 'agent-pg'],
  [3, 'topic-socket'], [2, 'topic-pg'],
]
const totalWeight = MIX.reduce((s, [w]) => s + w, 0)

async function publishOne() {
  let r = trafficRandom() * totalWeight
  const kind = MIX.find(([w]) => (r -= w) < 0)[1]
  const u = `${kind[0]}${kind.split('-')[1][0]}${uidSeq++}`
  let svc, ch, ev, data, via, inst, go
  if (kind.startsWith('wf-') || kind.startsWith('pool-')) {
    svc = 'workflow'
    const history = kind.startsWith('wf-')
    ch = history ? pick(wfChannels) : pick(poolChannels)
    ev = history ? 'workflow.started' : 'pool.status_changed'
    data = history ? { workflow_id: ch.slice(9), uid: u } : { pool_id: ch.slice(5), status: 'ok', uid: u }
    via = kind.split('-')[1]
    inst = pick(wf)
    if (via === 'socket') {
      const c = pick(pubNames)
      inst = null
      go = () => hostOfPub(c).publish(c, ch, ev, data)
    } else if (via === 'http') go = () => httpPublish(inst.port, ch, ev, data)
    else go = () => mcp.get(inst).publish(ch, ev, data)
  } else {
    svc = 'context'
    ev = 'message.new'
    via = kind.split('-')[1]
    const target = kind.startsWith('agent-') ? `agents/agent-${Math.floor(trafficRandom() * nAgents)}` : `topics/g${Math.floor(trafficRandom() * G)}`
    ch = target
    data = { content: 'chaos', uid: u }
    inst = pick(ctx)
    if (via === 'socket') {
      const a = pick(agentNames)
      inst = null
      data.from = a
      go = () => hostOf(a).publish(a, ch, ev, data)
    } else if (via === 'http') go = () => httpPublish(inst.port, ch, ev, data)
    else if (via === 'mcp') go = () => mcp.get(inst).publish(ch, ev, data)
    else {
      inst = null
      go = () => outbox.publish(ch, ev, data)
    }
  }
  const t0 = rec.now()
  inFlight++
  const a = await go()
  inFlight--
  rec.pub({ u, via, svc, ch, ev, inst: inst?.name ?? null, t0, ...a })
}

let publishing = true
const publisher = (async () => {
  const start = Date.now()
  let sent = 0
  while (publishing) {
    const due = Math.floor(((Date.now() - start) / 1000) * RATE)
    for (; sent < due && inFlight < 500; sent++) publishOne().catch((e) => rec.log('harness.error', { msg: String(e.stack).slice(0, 500) }))
    if (sent < due) sent = due // never catch up in a burst after a stall of ours
    await sleep(50)
  }
})()

// --- faults ---
const faultRandom = seeded(SEED + 2)
let faulting = FAULTS
const running = new Set()
function track(p) {
  running.add(p)
  p.catch((e) => rec.log('harness.error', { msg: String(e.stack).slice(0, 500) })).finally(() => running.delete(p))
}
const FAULT_MIX = [
  [3, 'kill'], [2, 'kill-worker'], [3, 'stop'],
  [2, 'redis-restart'], [2, 'redis-stop'], [2, 'pg-terminate'],
  [2, 'proxy-cut'], [2, 'proxy-stall'], [2, 'proxy-slow'], [2, 'proxy-half-open'],
]
if (FAULTS && values.faults !== 'all') {
  const kinds = values.faults.split(',')
  const unknown = kinds.filter((k) => !FAULT_MIX.some(([, x]) => x === k))
  if (unknown.length > 0) throw new Error(`unknown fault kinds ${unknown.join(', ')}; known: ${FAULT_MIX.map(([, x]) => x).join(', ')}`)
  FAULT_MIX.splice(0, FAULT_MIX.length, ...FAULT_MIX.filter(([, x]) => kinds.includes(x)))
}
const faultWeight = FAULT_MIX.reduce((s, [w]) => s + w, 0)
const down = new Set() // instances or 'redis' under a kill/stop now: one fault at a time each
async function fault() {
  let r = faultRandom() * faultWeight
  const kind = FAULT_MIX.find(([w]) => (r -= w) < 0)[1]
  const inst = instances[Math.floor(faultRandom() * instances.length)]
  const dur = Math.round(faultRandom.between(2000, 10000))
  const note = (o) => {
    rec.log('fault', { kind, ...o })
    say(`fault ${kind} ${JSON.stringify(o)}`)
  }
  switch (kind) {
    case 'kill':
      if (down.has(inst)) return
      down.add(inst)
      note({ target: inst.name, restart_after_ms: dur })
      await inst.kill()
      await sleep(dur)
      await inst.start()
      rec.log('fault.end', { kind, target: inst.name })
      down.delete(inst)
      return
    case 'kill-worker': {
      const w = wf[Math.floor(faultRandom() * wf.length)]
      if (down.has(w)) return
      note({ target: w.name, pid: w.killWorker(faultRandom) })
      return
    }
    case 'stop':
      if (down.has(inst)) return
      down.add(inst)
      note({ target: inst.name, ms: dur })
      inst.signalGroup('SIGSTOP')
      await sleep(dur)
      inst.signalGroup('SIGCONT')
      rec.log('fault.end', { kind, target: inst.name })
      down.delete(inst)
      return
    case 'redis-restart': {
      // One Redis node (of the cluster's six with --cluster): SIGKILL, started again from its AOF.
      if (down.has('redis')) return
      const node = redis.nodes.length === 1 ? redis.nodes[0] : redis.nodes[Math.floor(faultRandom() * redis.nodes.length)]
      down.add('redis')
      note({ target: `redis:${node.port}`, restart_after_ms: dur })
      await node.kill()
      await sleep(dur)
      await node.start()
      rec.log('fault.end', { kind, target: `redis:${node.port}` })
      down.delete('redis')
      return
    }
    case 'redis-stop': {
      if (down.has('redis')) return
      const node = redis.nodes.length === 1 ? redis.nodes[0] : redis.nodes[Math.floor(faultRandom() * redis.nodes.length)]
      down.add('redis')
      note({ target: `redis:${node.port}`, ms: dur })
      node.signal('SIGSTOP')
      await sleep(dur)
      node.signal('SIGCONT')
      rec.log('fault.end', { kind, target: `redis:${node.port}` })
      down.delete('redis')
      return
    }
    case 'pg-terminate':
      note({ target: 'postgres', terminated: await terminateListeners(db.url, outbox.pid === null ? [] : [outbox.pid]) })
      return
    case 'proxy-cut':
      note({ target: inst.name, connections: await proxies.get(inst).cut() })
      return
    case 'proxy-stall':
      note({ target: inst.name, ms: dur })
      await proxies.get(inst).stall(dur)
      rec.log('fault.end', { kind, target: inst.name })
      return
    case 'proxy-slow':
      note({ target: inst.name, ms: dur, bytes_per_s: 2048 })
      await proxies.get(inst).slow(2048, dur)
      rec.log('fault.end', { kind, target: inst.name })
      return
    case 'proxy-half-open': {
      const dir = faultRandom() < 0.5 ? 'down' : 'up'
      note({ target: inst.name, dir, connections: await proxies.get(inst).halfOpen(dir, 0.3, Math.floor(faultRandom() * 2 ** 32)) })
      return
    }
  }
}
const faulter = (async () => {
  await sleep(20000) // a calm start: every client subscribed
  while (faulting) {
    track(fault())
    await sleep(faultRandom.between(8000, 25000))
  }
})()

// --- memory samples (the soak's figures) ---
async function sample(label) {
  for (const inst of instances) {
    if (!inst.alive || down.has(inst)) continue
    rec.log('mem', { inst: inst.name, label, procs: await inst.memory() })
  }
}
let sampling = true
const sampler = (async () => {
  while (sampling) {
    await sample('periodic')
    const next = Date.now() + Number(values.sample) * 1000
    while (sampling && Date.now() < next) await sleep(500)
  }
})()
// Event-loop delay, the harness's and each client host's: the hosts' clients answer the servers'
// pings (5 s to answer) from their loops, and the harness times publications and faults from
// its own, so a delay of seconds shows up as heartbeat timeouts that no fault caused.
const lag = monitorEventLoopDelay({ resolution: 20 })
lag.enable()
async function progressLine(what) {
  const l = { p50_ms: Math.round(lag.percentile(50) / 1e6), p99_ms: Math.round(lag.percentile(99) / 1e6), max_ms: Math.round(lag.max / 1e6) }
  lag.reset()
  rec.log('harness.lag', l)
  const n = await hostCounts(true)
  // The worst host's p99 and the worst host's max (not necessarily the same host).
  const worst = { p99_ms: Math.max(0, ...n.lags.map((x) => x.p99_ms)), max_ms: Math.max(0, ...n.lags.map((x) => x.max_ms)) }
  say(`${what}: ${uidSeq} publications, ${n.agents}/${nAgents} agents up, ${n.recovering}/${nRec} recovering open, ${n.raw}/${nRaw + nSlow} raw and slow up, ${py.up}/${nPy} Python up; event-loop delay p99 ${l.p99_ms} ms (max ${l.max_ms}) harness, worst of ${n.lags.length} client hosts p99 ${worst.p99_ms} ms (max ${worst.max_ms})${n.missing > 0 ? `; ${n.missing} hosts did not answer` : ''}`)
}
const progress = setInterval(() => progressLine('running'), 60000)

// --- the end ---
await sleep(MINUTES * 60000)
faulting = false
await faulter
say('faults stopped; waiting for the ones in progress')
await Promise.all([...running])
for (const inst of instances) {
  inst.signalGroup('SIGCONT')
  if (!inst.alive) await inst.start()
}
for (const n of redis.nodes) n.signal('SIGCONT')
await sleep(10000)
publishing = false
await publisher
while (inFlight > 0) await sleep(100)
say(`publishing stopped after ${uidSeq} publications; waiting for clients to catch up`)
// Recovering clients: until each is open again (their replays then bring what they missed).
const settle = Date.now() + 90000
while (Date.now() < settle && (await hostCounts()).recovering < nRec) await sleep(500)
await sleep(25000) // tracked retries (3 × 5 s) and replays finish
clearInterval(progress)
await progressLine('settled') // the last minute's delays: since the last progress line
sampling = false
await sampler
await sample('final')

// Leaks: what the servers hold against the clients still open, then after every client closed.
async function census(label) {
  const out = {}
  for (const inst of instances) {
    // One answer per instance: the whole service (summed over its workers), each worker's own figures apart.
    const s = await inst.stats()
    if (s === null) {
      out[inst.name] = { unreachable: true, connections: 0, rooms: 0 }
      continue
    }
    out[inst.name] = {
      connections: s.connections.current,
      rooms: Object.keys(s.channels).length,
      pending: s.pending_deliveries,
      failed: s.failed_deliveries,
      heartbeat_timeouts: s.heartbeat_timeouts,
      slow_consumer_closes: s.slow_consumer_closes,
      ...(s.workers === undefined ? {} : { workers: s.workers.map((w) => ({ id: w.id, status: w.status, connections: w.connections, rooms: w.rooms, pending: w.pending_deliveries, failed: w.failed_deliveries })) }),
    }
  }
  rec.log('census', { label, instances: out })
  return out
}
const open = await hostCounts()
const openClients = { context: open.agents, workflow: open.recovering + open.raw + py.up + open.publishers }
rec.log('open.clients', openClients)
await census('before-close')
const wires = await Promise.all(hosts.map((h) => h.close()))
await py.close()
for (const m of mcp.values()) m.close()
outbox.close()
// A socket's end reaches the server at once, or at its next ping timeout when a peer vanished
// silently: poll up to a minute, and say how long it took.
const closedAt = Date.now()
for (;;) {
  await sleep(5000)
  const left = await census('after-close')
  const held = Object.values(left).flat().reduce((n, w) => n + w.connections + w.rooms, 0)
  if (held === 0 || Date.now() - closedAt > 60000) {
    rec.log('after-close.wait', { ms: Date.now() - closedAt, held })
    break
  }
}
for (const w of wires.flat()) rec.log('wire', w)

for (const p of proxies.values()) await p.close()
await Promise.all(instances.map((x) => x.stop()))
await redis.stop()
await db.drop()
await rec.close()
say('run finished; checking')
const report = await checkRun(OUT)
process.exit(report.ok ? 0 : 1)
