// The servers a benchmark run compares, each started as its own process pinned to the
// server core. A kind lists its processes; the load generator gets their WebSocket URLs.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs'
import { get } from 'node:http'
import { tmpdir } from 'node:os'
import { connect } from 'node:net'
import { freePort } from './ports.mjs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const node = process.execPath
// ROOMCAST_BENCH_ROOT runs another checkout's build (e.g. a branch under review) with these settings.
const ROOMCAST_ROOT = process.env.ROOMCAST_BENCH_ROOT ?? ROOT
const roomcast = (settings) => [join(ROOMCAST_ROOT, 'bin', 'roomcast.js'), 'serve', 'patterns', '--settings', join(ROOT, 'bench', 'settings', settings)]
const ROOMCAST = roomcast('roomcast.yaml')
// The same settings plus history on every patterns:{category} channel (docs/protocol.md A.8).
const ROOMCAST_HISTORY = roomcast('roomcast-history.yaml')
// Every limit at its default (frame rate, sizes): what an anonymous client on the internet gets.
const ROOMCAST_LIMITS = roomcast('roomcast-limits.yaml')
// The same service with its events tracked (at-least-once, docs/protocol.md A.8); its clients ack every delivery.
const ROOMCAST_TRACKED = roomcast('roomcast-tracked.yaml')
// Tracked on Redis, every client an identity: pending events recorded in Redis (durable) or in memory only.
const ROOMCAST_TRACKED_DURABLE = roomcast('roomcast-tracked-redis.yaml')
const ROOMCAST_TRACKED_MEMORY = roomcast('roomcast-tracked-redis-memory.yaml')
// roomcast.yaml with `workers_accept: shared`: only its -wN variants differ from roomcast.
const ROOMCAST_SHARED = roomcast('roomcast-shared.yaml')
// The same settings plus presence on the fan-out channel patterns:bench (docs/protocol.md A.10).
const ROOMCAST_PRESENCE = roomcast('roomcast-presence.yaml')

/** Server kind → wire protocol, processes to start, whether it needs a redis-server. */
export const SERVERS = {
  roomcast: { protocol: 'roomcast', instances: 1, argv: (port) => [node, ...ROOMCAST, '--port', String(port)] },
  // For the abuse scenario: the limits as shipped, so that attackers stay within them.
  'roomcast-limits': { protocol: 'roomcast', instances: 1, argv: (port) => [node, ...ROOMCAST_LIMITS, '--port', String(port)] },
  'roomcast-history': { protocol: 'roomcast', instances: 1, argv: (port) => [node, ...ROOMCAST_HISTORY, '--port', String(port)] },
  // History on Redis: one instance, the broker's Lua script on every publication.
  'roomcast-history-redis': { protocol: 'roomcast', instances: 1, redis: true, argv: (port) => [node, ...ROOMCAST_HISTORY, '--port', String(port)] },
  // One instance over a bench-started redis-server: the broker's PUBLISH on every publication.
  'roomcast-redis': { protocol: 'roomcast', instances: 1, redis: true, argv: (port) => [node, ...ROOMCAST, '--port', String(port)] },
  'roomcast-tracked': { protocol: 'roomcast-ack', instances: 1, argv: (port) => [node, ...ROOMCAST_TRACKED, '--port', String(port)] },
  // The same tracked service, its clients acking what one read delivers in one frame (`message_ids`).
  'roomcast-tracked-batched': { protocol: 'roomcast-ack-batch', instances: 1, argv: (port) => [node, ...ROOMCAST_TRACKED, '--port', String(port)] },
  // Tracked on one Redis, every subscriber authenticated (an identity, as agents are): today's
  // in-memory tracking (`delivery.durable: off`) and the durable record in Redis (`auto`), each
  // with one ack frame per delivery and with batched acks. Compare `-durable` with `-memory`.
  'roomcast-tracked-redis-memory': { protocol: 'roomcast-ack-id', instances: 1, redis: true, argv: (port) => [node, ...ROOMCAST_TRACKED_MEMORY, '--port', String(port)] },
  'roomcast-tracked-redis-durable': { protocol: 'roomcast-ack-id', instances: 1, redis: true, argv: (port) => [node, ...ROOMCAST_TRACKED_DURABLE, '--port', String(port)] },
  'roomcast-tracked-redis-memory-batched': { protocol: 'roomcast-ack-batch-id', instances: 1, redis: true, argv: (port) => [node, ...ROOMCAST_TRACKED_MEMORY, '--port', String(port)] },
  'roomcast-tracked-redis-durable-batched': { protocol: 'roomcast-ack-batch-id', instances: 1, redis: true, argv: (port) => [node, ...ROOMCAST_TRACKED_DURABLE, '--port', String(port)] },
  // Diagnostic: nothing tracked, but the clients ack every delivery anyway (the server counts and drops
  // the acks): what the ack traffic alone costs, apart from the tracking.
  // With workers, each accepting from the shared socket (no hand-over by the primary); measured
  // against roomcast (`oneWorker`): run roomcast-shared-w2, not roomcast-shared itself.
  'roomcast-shared': { protocol: 'roomcast', instances: 1, oneWorker: 'roomcast', argv: (port) => [node, ...ROOMCAST_SHARED, '--port', String(port)] },
  'roomcast-acking': { protocol: 'roomcast-ack', instances: 1, argv: (port) => [node, ...ROOMCAST, '--port', String(port)] },
  // Another checkout's build (ROOMCAST_BEFORE_ROOT: e.g. main before a change, built), side by side with this one.
  ...(process.env.ROOMCAST_BEFORE_ROOT === undefined
    ? {}
    : {
        'roomcast-before': { protocol: 'roomcast', instances: 1, argv: (port) => [node, join(process.env.ROOMCAST_BEFORE_ROOT, 'bin', 'roomcast.js'), 'serve', 'patterns', '--settings', join(ROOT, 'bench', 'settings', 'roomcast.yaml'), '--port', String(port)] },
        // roomcast-redis2 of the other checkout: the cluster's receive path before and after a change.
        'roomcast-redis2-before': { protocol: 'roomcast', instances: 2, redis: true, argv: (port) => [node, join(process.env.ROOMCAST_BEFORE_ROOT, 'bin', 'roomcast.js'), 'serve', 'patterns', '--settings', join(ROOT, 'bench', 'settings', 'roomcast.yaml'), '--port', String(port)] },
        // The tracked-on-Redis kinds of the other checkout (each against its own -memory twin of this checkout).
        ...Object.fromEntries(
          ['memory', 'durable', 'memory-batched', 'durable-batched'].map((v) => [
            `roomcast-tracked-redis-${v}-before`,
            { protocol: v.endsWith('batched') ? 'roomcast-ack-batch-id' : 'roomcast-ack-id', instances: 1, redis: true, argv: (port) => [node, join(process.env.ROOMCAST_BEFORE_ROOT, 'bin', 'roomcast.js'), 'serve', 'patterns', '--settings', join(ROOT, 'bench', 'settings', v.startsWith('memory') ? 'roomcast-tracked-redis-memory.yaml' : 'roomcast-tracked-redis.yaml'), '--port', String(port)] },
          ]),
        ),
      }),
  'ws-coalesced': { protocol: 'ws', instances: 1, argv: (port) => [node, join(ROOT, 'bench/servers/ws-pubsub.js'), '--coalesce', '--port', String(port)] },
  'ws-plain': { protocol: 'ws', instances: 1, argv: (port) => [node, join(ROOT, 'bench/servers/ws-pubsub.js'), '--port', String(port)] },
  // The plain reference greeting every connection with a welcome frame (its clients wait for it, as
  // roomcast's wait for the welcome event): a connection's cost with the first server frame included.
  'ws-welcome': { protocol: 'ws-welcome', instances: 1, argv: (port) => [node, join(ROOT, 'bench/servers/ws-pubsub.js'), '--welcome', '--port', String(port)] },
  // Two processes of the same on one shared socket (ws-pubsub.js --workers 2), measured against their
  // one-process self: what a second process costs a storm without roomcast (docs/performance.md).
  'ws-plain-w2': { protocol: 'ws', instances: 1, workers: 2, base: 'ws-plain', argv: (port) => [node, join(ROOT, 'bench/servers/ws-pubsub.js'), '--workers', '2', '--port', String(port)] },
  'ws-welcome-w2': { protocol: 'ws-welcome', instances: 1, workers: 2, base: 'ws-welcome', argv: (port) => [node, join(ROOT, 'bench/servers/ws-pubsub.js'), '--welcome', '--workers', '2', '--port', String(port)] },
  // Diagnostic: the coalescing reference with payloads padded so its frames are as large as
  // roomcast's nine-key envelope (~320 bytes): same bytes on the wire, lean code.
  'ws-coalesced-320': { protocol: 'ws', instances: 1, payloadBytes: 305, argv: (port) => [node, join(ROOT, 'bench/servers/ws-pubsub.js'), '--coalesce', '--port', String(port)] },
  socketio: { protocol: 'socketio', instances: 1, argv: (port) => [node, join(ROOT, 'bench/servers/socketio-pubsub.js'), '--port', String(port)] },
  // Two roomcast instances over a bench-started redis-server (REDIS_URL): the publisher on
  // the first, subscribers split across both. Needs the Redis broker.
  'roomcast-redis2': { protocol: 'roomcast', instances: 2, redis: true, argv: (port) => [node, ...ROOMCAST, '--port', String(port)] },
  // Three instances over one bench-started redis-server, and over a bench-started Redis Cluster of
  // three masters with a replica each (REDIS_CLUSTER_NODES: sharded pub/sub). Subscribers are split
  // over the instances; the channels scenario spreads its publishers too (bench/cluster-channels.mjs).
  'roomcast-redis3': { protocol: 'roomcast', instances: 3, redis: true, argv: (port) => [node, ...ROOMCAST, '--port', String(port)] },
  'roomcast-cluster3': { protocol: 'roomcast', instances: 3, redisCluster: true, argv: (port) => [node, ...ROOMCAST, '--port', String(port)] },
  // roomcast-redis2 with presence on the fan-out channel patterns:bench (the presence scenario compares the two).
  'roomcast-presence-redis2': { protocol: 'roomcast', instances: 2, redis: true, presence: true, argv: (port) => [node, ...ROOMCAST_PRESENCE, '--port', String(port)] },
}

/** `<roomcast kind>-w<N>`: that kind served by N workers (`--workers N`), e.g. roomcast-w2. */
const WORKERS_SUFFIX = /^(roomcast[a-z-]*)-w(\d+)$/

/** The definition of a server kind, the `-wN` variants of the roomcast kinds included; undefined if unknown. */
export function serverDef(kind) {
  if (SERVERS[kind] !== undefined) return SERVERS[kind]
  const m = WORKERS_SUFFIX.exec(kind)
  const base = m === null ? undefined : SERVERS[m[1]]
  if (base === undefined || base.instances !== 1 || base.protocol.startsWith('roomcast') === false) return undefined
  const workers = Number(m[2])
  return { ...base, base: base.oneWorker ?? m[1], workers, argv: (port) => [...base.argv(port), '--workers', String(workers)] }
}

/** The kind a `-wN` variant is measured against (its one-worker self), or null. */
export function oneWorkerOf(kind) {
  return serverDef(kind)?.base ?? null
}

/** Whether a kind is roomcast (so that `--workers` applies to it). */
export const isRoomcast = (kind) => SERVERS[kind]?.protocol.startsWith('roomcast') === true && SERVERS[kind].instances === 1

export const hasTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0

function pinned(cpu, argv) {
  return hasTaskset && cpu !== null ? ['taskset', '-c', String(cpu), ...argv] : argv
}

export { freePort }

async function waitPort(port, child, timeoutMs = 60000) {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} before listening on ${port}`)
    const ok = await new Promise((resolve) => {
      const s = connect(port, '127.0.0.1')
      s.once('connect', () => {
        s.destroy()
        resolve(true)
      })
      s.once('error', () => resolve(false))
    })
    if (ok) return
    await sleep(50)
  }
  throw new Error(`nothing listening on ${port} after ${timeoutMs} ms`)
}

function start(argv, cpu, env, label) {
  const [cmd, ...args] = pinned(cpu, argv)
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-4000)
  })
  child.label = label
  child.stderrTail = () => stderr
  return child
}

/** redis-server arguments for a bench node: loopback, no persistence. */
const redisArgs = (port) => ['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']

/**
 * One bench-started redis-server on the server core. Resolves with what a server needs to use it
 * (`env`), its processes (`{pid, port, label, role}`: here one, role `single`) and a stop function.
 */
export async function startRedis({ cpu = 0 } = {}) {
  const port = await freePort()
  const child = start(redisArgs(port), cpu, {}, 'redis')
  try {
    await waitPort(port, child)
  } catch (err) {
    await stopAll([child])
    throw err
  }
  return { kind: 'redis', env: { REDIS_URL: `redis://127.0.0.1:${port}` }, processes: [{ pid: child.pid, port, label: 'redis', role: 'single' }], stop: () => stopAll([child]) }
}

/** redis-cli against one node; its output (throws when it fails). */
export function redisCli(port, ...args) {
  const out = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8' })
  if (out.status !== 0) throw new Error(`redis-cli -p ${port} ${args.join(' ')}: ${out.stderr || out.stdout}`)
  return out.stdout
}

/**
 * A bench-started Redis Cluster on the server core: `masters` masters with one replica each
 * (cluster-enabled redis-servers on free ports, no persistence, in a temporary directory, built
 * with `redis-cli --cluster create`), ready once every node says `cluster_state:ok` and every
 * replica's link is up. Its processes are labelled `m1`…`mN` (masters, in slot order) and
 * `r1`…`rN` (ri: the replica of mi).
 */
export async function startRedisCluster({ cpu = 0, masters = 3 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'roomcast-bench-cluster-'))
  const children = []
  const stop = async () => {
    await stopAll(children)
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    const ports = []
    for (let i = 0; i < masters * 2; i++) {
      const port = await freePort()
      const bus = await freePort()
      const argv = [...redisArgs(port), '--cluster-enabled', 'yes', '--cluster-port', String(bus), '--cluster-config-file', join(dir, `nodes-${i}.conf`), '--dir', dir]
      const child = start(argv, cpu, {}, 'redis')
      children.push(child)
      await waitPort(port, child)
      ports.push(port)
    }
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], { encoding: 'utf8' })
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout.slice(-1000)}${create.stderr}`)
    const end = Date.now() + 60000
    let roles
    for (;;) {
      roles = settledRoles(ports, masters)
      if (roles !== null) break
      if (Date.now() > end) throw new Error('the bench cluster was not ok with every replica in sync and its roles agreed after 60 s')
      await sleep(100)
    }
    const processes = roles.map((n) => ({ ...n, pid: children[ports.indexOf(n.port)].pid }))
    return { kind: 'redis-cluster', env: { REDIS_CLUSTER_NODES: ports.map((p) => `127.0.0.1:${p}`).join(',') }, processes, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

/**
 * The cluster's roles (clusterRoles) once they have settled, else null: every node says
 * `cluster_state:ok`, every replica's link to its master is up, and the first node's
 * `CLUSTER NODES` lists each node in the role it gives itself (INFO replication), `masters`
 * masters, each with slots. A node's own role changes with `CLUSTER REPLICATE` at once; the
 * first node hears of it by gossip, later: read before that, a replica showed as a master
 * without slots (a fourth master, m4).
 */
function settledRoles(ports, masters) {
  const own = new Map()
  for (const p of ports) {
    if (!redisCli(p, 'cluster', 'info').includes('cluster_state:ok')) return null
    const repl = redisCli(p, 'info', 'replication')
    if (repl.includes('role:slave') && !repl.includes('master_link_status:up')) return null
    own.set(p, repl.includes('role:slave') ? 'replica' : 'master')
  }
  const roles = clusterRoles(redisCli(ports[0], 'cluster', 'nodes'))
  const agreed = roles.length === ports.length && roles.every((n) => own.get(n.port) === n.role && (n.role === 'replica' || n.slots > 0))
  return agreed && roles.filter((n) => n.role === 'master').length === masters ? roles : null
}

/**
 * Every node of a `CLUSTER NODES` answer with its role: masters labelled m1…mN in the order of
 * their first slot, each replica ri after its master mi. `{port, label, role, slots}`; `slots`
 * counts a master's slots (0 for a replica).
 */
export function clusterRoles(nodesText) {
  const nodes = nodesText
    .trim()
    .split('\n')
    .map((line) => {
      const [id, addr, flags, master, , , , , ...slots] = line.trim().split(' ')
      const ranges = slots.filter((s) => /^\d/.test(s)).map((s) => s.split('-').map(Number))
      return {
        id,
        port: Number(/:(\d+)/.exec(addr)[1]),
        master: flags.includes('master') ? null : master,
        first: ranges.length === 0 ? Infinity : Math.min(...ranges.map((r) => r[0])),
        slots: ranges.reduce((a, r) => a + (r.length === 2 ? r[1] - r[0] + 1 : 1), 0),
      }
    })
  const masters = nodes.filter((n) => n.master === null).sort((a, b) => a.first - b.first)
  const out = []
  masters.forEach((m, i) => {
    out.push({ port: m.port, label: `m${i + 1}`, role: 'master', slots: m.slots })
    nodes.filter((n) => n.master === m.id).forEach((r, j) => out.push({ port: r.port, label: j === 0 ? `r${i + 1}` : `r${i + 1}.${j + 1}`, role: 'replica', slots: 0 }))
  })
  return out
}

/**
 * Starts a server kind; resolves with its URLs, pids and a stop function. `redis`: a Redis (or
 * Redis Cluster) the caller started and stops (startRedis, startRedisCluster), used instead of one
 * of the kind's own; its processes are sampled like a kind's own redis-server. `redisCpu`: the
 * core the kind's own Redis is pinned to (default the server's: `--redis-core loadgen` passes
 * the load generator's, as a deployment would keep Redis off the service's core).
 */
export async function startServer(kind, { cpu = 0, redisCpu = cpu, nodeFlags = [], redis: external = null } = {}) {
  const def = serverDef(kind)
  if (def === undefined) throw new Error(`unknown server kind ${kind}; known: ${Object.keys(SERVERS).join(', ')}`)
  const children = []
  const env = {}
  let redisPort = null
  let redisProcesses = []
  let own = null
  try {
    if (def.redis || def.redisCluster) {
      if (external !== null && (external.kind === 'redis-cluster') !== (def.redisCluster === true)) throw new Error(`${kind} needs ${def.redisCluster ? 'a Redis Cluster' : 'one Redis'}, not a ${external.kind}`)
      const redis = external ?? (own = await (def.redisCluster ? startRedisCluster({ cpu: redisCpu }) : startRedis({ cpu: redisCpu })))
      Object.assign(env, redis.env)
      redisProcesses = redis.processes
      redisPort = redis.processes[0].port
    }
    const urls = []
    const pids = []
    // The instances start together (each takes seconds on a loaded host); listed in start order.
    const started = []
    for (let i = 0; i < def.instances; i++) {
      const port = await freePort()
      const [exe, ...rest] = def.argv(port)
      const child = start([exe, ...nodeFlags, ...rest], cpu, env, kind)
      children.push(child)
      started.push({ port, child })
    }
    await Promise.all(
      started.map(async ({ port, child }) => {
        await waitPort(port, child)
        if (def.workers > 1) await everyWorkerListening(port, def.workers, child)
      }),
    )
    for (const { port, child } of started) {
      urls.push(`ws://127.0.0.1:${port}`)
      pids.push(child.pid)
    }
    const stop = async () => {
      await stopAll(children)
      await own?.stop()
    }
    // Every Redis process is counted in the server's CPU, and apart (redisProcesses: pid, port, label, role).
    const redisPid = def.redis ? redisProcesses[0].pid : null
    return { kind, protocol: def.protocol, payloadBytes: def.payloadBytes, presence: def.presence === true, workers: def.workers ?? 1, urls, pids, allPids: [...redisProcesses.map((p) => p.pid), ...children.map((c) => c.pid)], redisPid, redisPort: def.redis ? redisPort : null, redisProcesses, stop }
  } catch (err) {
    await stopAll(children)
    await own?.stop()
    throw err
  }
}

/** GET a JSON document on a connection of its own (node:cluster hands each to the next worker). */
function getJson(port, path) {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (body += d))
      res.on('end', () => {
        try {
          resolve(JSON.parse(body))
        } catch (err) {
          reject(err)
        }
      })
    })
    req.on('error', reject)
    req.setTimeout(10000, () => req.destroy(new Error('timeout')))
  })
}

/**
 * The port answers as soon as the first worker listens: waits until `n` different workers
 * (instance ids in /health) have answered, so that every worker takes its share from the start.
 */
async function everyWorkerListening(port, n, child, timeoutMs = 60000) {
  const seen = new Set()
  const end = Date.now() + timeoutMs
  while (seen.size < n) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}: ${child.stderrTail()}`)
    if (Date.now() > end) throw new Error(`${seen.size} of ${n} workers answered /health after ${timeoutMs} ms`)
    try {
      seen.add((await getJson(port, '/health')).instance_id)
    } catch {
      await sleep(50)
    }
  }
}

/** The child processes of `pid` (Linux /proc, every thread's children), or none. */
function childrenOf(pid) {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((t) =>
      readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8')
        .split(' ')
        .filter((x) => x.length > 0)
        .map(Number),
    )
  } catch {
    return []
  }
}

/** `pids` and every process below them: a service's primary and its workers. */
export function processTree(pids) {
  const out = []
  const visit = (pid) => {
    out.push(pid)
    for (const c of childrenOf(pid)) visit(c)
  }
  for (const pid of pids) visit(pid)
  return out
}

/** Open sockets of a process (Linux /proc/<pid>/fd), or null. */
export function socketCount(pid) {
  try {
    let n = 0
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n++
      } catch {
        // closed meanwhile
      }
    }
    return n
  } catch {
    return null
  }
}

/**
 * What a bench-started redis-server says of the run: its connected clients (the asking redis-cli
 * not counted) and its own time per PUBLISH (µs, fan-out to the subscribing connections
 * included: `INFO commandstats`), or nulls.
 */
export function redisInfo(port) {
  const out = spawnSync('redis-cli', ['-p', String(port), 'info', 'all'], { encoding: 'utf8' }).stdout ?? ''
  const clients = /connected_clients:(\d+)/.exec(out)
  const publish = /cmdstat_publish:calls=(\d+),usec=(\d+),usec_per_call=([\d.]+)/.exec(out)
  return { clients: clients === null ? null : Number(clients[1]) - 1, publishCalls: publish === null ? null : Number(publish[1]), publishUsecPerCall: publish === null ? null : Number(publish[3]) }
}

async function stopAll(children) {
  await Promise.all(
    children.map(
      (c) =>
        new Promise((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve()
          const t = setTimeout(() => c.kill('SIGKILL'), 5000)
          c.once('exit', () => {
            clearTimeout(t)
            resolve()
          })
          c.kill('SIGTERM')
        }),
    ),
  )
}

/** Resident set size of a process in bytes (Linux /proc), or null. */
export function rssBytes(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? null : Number(m[1]) * 1024
  } catch {
    return null
  }
}

/**
 * CPU time of a process in seconds at nanosecond resolution: the time the scheduler ran each of
 * its threads (Linux /proc/<pid>/task/<tid>/schedstat, first field), or null. /proc/<pid>/stat
 * counts 10 ms ticks, too coarse for a redis-server at a few % of a core over a few seconds.
 */
export function cpuSecondsFine(pid) {
  try {
    let ns = 0
    for (const t of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0])
    return ns / 1e9
  } catch {
    return null
  }
}

/** Context switches of a process's main thread so far, voluntary + involuntary (Linux /proc), or null. */
export function contextSwitches(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const v = /^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)
    const n = /^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)
    return v === null || n === null ? null : Number(v[1]) + Number(n[1])
  } catch {
    return null
  }
}

/** Write syscalls of a process so far (Linux /proc/<pid>/io `syscw`), or null. */
export function writeCalls(pid) {
  try {
    const m = /^syscw:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))
    return m === null ? null : Number(m[1])
  } catch {
    return null
  }
}

/** The kernel's slab memory in bytes (Linux /proc/meminfo, whole host), or null. */
export function slabBytes() {
  try {
    const m = /^Slab:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))
    return m === null ? null : Number(m[1]) * 1024
  } catch {
    return null
  }
}
