// Runs one scenario against one server: starts the server (server core), starts the load
// generator (its own process on the other core), samples the server's CPU over the measured
// windows and its RSS while a storm's connections are held.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { contextSwitches, cpuSecondsFine, hasTaskset, writeCalls, processTree, redisInfo, ROOT, rssBytes, slabBytes, socketCount, startServer } from './servers.js'

const sum = (xs) => xs.reduce((a, b) => a + (b ?? 0), 0)

/**
 * CPU seconds of the server so far, summed over every process it runs (a service's primary and
 * its workers, a bench-started redis-server), and apart: the primary's own and Redis's; and the
 * context switches (main threads) and write syscalls of all of them. Read from each thread's
 * schedstat (ns), not /proc/<pid>/stat's 10 ms ticks: a primary at 1 % of a core over a 4 s
 * window is 4 ticks, and one tick either way per process and edge moved a `workers: 2` round by
 * a few % where a one-process round has one process to round.
 */
function serverCpu(server) {
  const redisPids = server.redisProcesses.map((p) => p.pid)
  const roomcast = server.allPids.filter((pid) => !redisPids.includes(pid))
  const tree = processTree(server.allPids)
  const perRedis = Object.fromEntries(server.redisProcesses.map((p) => [p.label, cpuSecondsFine(p.pid)]))
  return {
    total: sum(tree.map(cpuSecondsFine)),
    switches: sum(tree.map(contextSwitches)),
    writes: sum(tree.map(writeCalls)),
    primary: server.workers > 1 ? sum(roomcast.map(cpuSecondsFine)) : null,
    redis: redisPids.length === 0 ? null : sum(Object.values(perRedis)),
    perRedis,
    // The service's own processes at the same resolution, when a Redis is sampled apart.
    instances: redisPids.length === 0 ? null : sum(processTree(roomcast).map(cpuSecondsFine)),
  }
}

/** The workers' pids of a service started with `--workers N` (the primary's children), else []. */
const workerPids = (server) => (server.workers > 1 ? processTree(server.pids).filter((pid) => !server.pids.includes(pid)) : [])

/** CPU seconds over a window → % of one core. */
const percent = (a, b, seconds) => (a === null || b === null ? null : Math.round(((b - a) / seconds) * 1000) / 10)

/**
 * The heap and RSS after a forced GC of each of the server's instances (bench/lib/heap-probe.mjs,
 * preloaded by `bench/run.js --heap`), summed; null without --heap or when a process does not answer.
 */
async function heapAfterGc(server) {
  const dir = process.env.ROOMCAST_HEAP_DIR
  if (dir === undefined) return null
  const asked = Date.now()
  let heapUsed = 0
  let rss = 0
  for (const pid of server.pids) {
    const file = join(dir, `${pid}.json`)
    try {
      process.kill(pid, 'SIGUSR2')
    } catch {
      return null
    }
    let m = null
    for (let i = 0; i < 600 && m === null; i++) {
      await sleep(50)
      try {
        const read = JSON.parse(readFileSync(file, 'utf8'))
        if (read.at >= asked) m = read
      } catch {
        // not written yet
      }
    }
    if (m === null) return null
    heapUsed += m.heapUsed
    rss += m.rss
  }
  return { heapUsed, rss }
}

/** Server CPU (every process, ns resolution) this quiet over SETTLE_STEP_MS counts as idle. */
const SETTLE_QUIET_SECONDS = 0.002
const SETTLE_STEP_MS = 100
const SETTLE_MAX_MS = 20000

/**
 * Waits until the server is done with what the load generator did before (a storm's warm-up): its
 * processes hold no more sockets than at the start and used at most SETTLE_QUIET_SECONDS of CPU
 * over the last SETTLE_STEP_MS. A client's `close` event comes before the server has closed its
 * side and cleaned the connection up; without this wait that work fell in the next measured
 * window. Resolves with how long it waited, and whether it gave up at SETTLE_MAX_MS.
 */
async function settle(server, socketsBase) {
  const t0 = performance.now()
  const cpu = () => sum(processTree(server.allPids).map(cpuSecondsFine))
  const sockets = () => sum(processTree(server.pids).map(socketCount))
  const cpu0 = cpu()
  // What the old window would have started with: the server's sockets of the warm-up not closed yet.
  const socketsAtStart = Math.max(0, sockets() - socketsBase)
  let before = cpu0
  for (;;) {
    await sleep(SETTLE_STEP_MS)
    const now = cpu()
    const open = sockets()
    const waited = Math.round(performance.now() - t0)
    // cpuMs: the server's CPU while it settled, the quiet last step included.
    const seen = { waitedMs: waited, cpuMs: Math.round((now - cpu0) * 1000), socketsAtStart }
    if (open <= socketsBase && now - before <= SETTLE_QUIET_SECONDS) return { ...seen, timedOut: false }
    if (waited >= SETTLE_MAX_MS) return { ...seen, timedOut: true, socketsOpen: open - socketsBase }
    before = now
  }
}

function startLoadgen(cpu) {
  const argv = [process.execPath, join(ROOT, 'bench', 'loadgen', 'main.js')]
  const [cmd, ...args] = hasTaskset && cpu !== null ? ['taskset', '-c', String(cpu), ...argv] : argv
  return spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
}

/**
 * Runs `scenario` with `cfg` against a fresh server of `kind`; resolves with the result. `redis`:
 * a Redis or Redis Cluster the caller started (servers.js startRedis, startRedisCluster) for a
 * kind that needs one, instead of one of its own. `onMark(label, edge, server)`: called at each edge
 * (`start`, `end`) of a measured window, just after the server's CPU was sampled.
 */
export async function runOne(kind, scenario, cfg, cores, nodeFlags = [], { redis = null, onMark = null } = {}) {
  // `kind@redis-loadgen` (run.js --redis-core): the kind with its bench-started Redis on the load generator's core.
  const [base, placement] = kind.split('@redis-')
  const redisCpu = placement === 'loadgen' ? cores.loadgen : cores.server
  const server = await startServer(base, { cpu: cores.server, redisCpu, nodeFlags, redis })
  try {
    await sleep(300)
    const rssBase = sum(processTree(server.allPids).map(rssBytes))
    const workers = workerPids(server)
    const socketsBase = workers.map(socketCount)
    const allSocketsBase = sum(processTree(server.pids).map(socketCount))
    const slabBase = slabBytes()
    const heapBase = scenario === 'storm' ? await heapAfterGc(server) : null
    const lg = startLoadgen(cores.loadgen)
    const windows = {}
    const marks = {}
    const result = await new Promise((resolve, reject) => {
      lg.on('message', (msg) => {
        if (msg.type === 'mark') {
          const [label, edge] = msg.name.split(':')
          marks[`${label}:${edge}`] = { t: performance.now(), cpu: serverCpu(server) }
          // The caller's own samples at the window's edges (after the CPU's: not counted in the window).
          onMark?.(label, edge, server)
          if (edge === 'end') {
            const a = marks[`${label}:start`]
            const b = marks[`${label}:end`]
            const seconds = (b.t - a.t) / 1000
            windows[label] = { serverCpu: percent(a.cpu.total, b.cpu.total, seconds), primaryCpu: percent(a.cpu.primary, b.cpu.primary, seconds), redisCpu: percent(a.cpu.redis, b.cpu.redis, seconds), switchesPerSec: Math.round((b.cpu.switches - a.cpu.switches) / seconds), writesPerSec: Math.round((b.cpu.writes - a.cpu.writes) / seconds) }
            // Each Redis process's CPU over the window, % of a core (a cluster: every master and replica).
            if (server.redisProcesses.length > 0) windows[label].instancesCpu = Math.round(((b.cpu.instances - a.cpu.instances) / seconds) * 10000) / 100
            if (server.redisProcesses.length > 0) windows[label].redisProcessCpu = Object.fromEntries(Object.entries(b.cpu.perRedis).map(([k, v]) => [k, v === null || a.cpu.perRedis[k] === null ? null : Math.round(((v - a.cpu.perRedis[k]) / seconds) * 10000) / 100]))
            // CPU seconds over the window: every roomcast process (all instances, all workers), and Redis apart.
            windows[label].roomcastSeconds = Math.round((a.cpu.instances === null ? b.cpu.total - a.cpu.total : b.cpu.instances - a.cpu.instances) * 1000) / 1000
            windows[label].redisSeconds = a.cpu.redis === null ? null : Math.round((b.cpu.redis - a.cpu.redis) * 1000) / 1000
          }
        } else if (msg.type === 'settle') {
          settle(server, allSocketsBase).then((settled) => lg.send(settled))
        } else if (msg.type === 'holding') {
          // Let the server settle, then read its RSS with every connection held open.
          sleep(1000).then(async () => {
            const rssHeld = sum(processTree(server.allPids).map(rssBytes))
            // Then the heap after a GC: what the held connections keep, without the garbage of making them.
            const heapHeld = heapBase === null ? null : await heapAfterGc(server)
            if (heapHeld !== null && msg.connected > 0) {
              const kb = (bytes) => Math.round((bytes / msg.connected / 1024) * 100) / 100
              windows.heap = { perConnectionKB: kb(heapHeld.heapUsed - heapBase.heapUsed), rssAfterGcPerConnectionKB: kb(heapHeld.rss - heapBase.rss), idleHeapMB: Math.round(heapBase.heapUsed / 1024 / 102.4) / 10, idleRssMB: Math.round(heapBase.rss / 1024 / 102.4) / 10 }
            }
            // Each worker's share of the held connections: its open sockets beyond those it had at the start.
            if (workers.length > 0) windows.perWorker = workers.map((pid, i) => (socketCount(pid) ?? 0) - (socketsBase[i] ?? 0))
            // Kernel slab growth covers both ends of every loopback connection: halve it.
            const slab = slabBytes()
            const kernelKB = slab !== null && slabBase !== null && msg.connected > 0 ? Math.round(((slab - slabBase) / 2 / msg.connected / 1024) * 100) / 100 : null
            windows.rss = { baseBytes: rssBase, heldBytes: rssHeld, perConnectionKB: msg.connected > 0 ? Math.round(((rssHeld - rssBase) / msg.connected / 1024) * 100) / 100 : null, kernelSlabKB: kernelKB }
            lg.send({ type: 'release' })
          })
        } else if (msg.type === 'result') {
          resolve(msg.result)
        } else if (msg.type === 'error') {
          reject(new Error(`load generator: ${msg.message}`))
        }
      })
      lg.once('exit', (code) => reject(new Error(`load generator exited with ${code} without a result`)))
      lg.send({ scenario, protocol: server.protocol, cfg: { ...cfg, ...(server.payloadBytes === undefined ? {} : { payloadBytes: server.payloadBytes }), presence: server.presence, urls: server.urls } })
    })
    const rssEnd = sum(processTree(server.allPids).map(rssBytes))
    for (const [label, w] of Object.entries(windows)) if (result[label] !== undefined) Object.assign(result[label], w)
    if (windows.rss !== undefined) result.rss = windows.rss
    if (windows.perWorker !== undefined) result.perWorker = windows.perWorker
    if (windows.heap !== undefined) result.heap = windows.heap
    result.workers = server.workers
    if (server.redisPort !== null) {
      const info = redisInfo(server.redisPort)
      Object.assign(result, { redisClients: info.clients, redisPublishUsec: info.publishUsecPerCall })
    }
    if (windows.storm !== undefined) Object.assign(result, { serverCpu: windows.storm.serverCpu, primaryCpu: windows.storm.primaryCpu })
    if (windows.rtt !== undefined) result.serverCpu = windows.rtt.serverCpu
    if (windows.reconnect !== undefined) result.serverCpu = windows.reconnect.serverCpu
    if (windows.abuse !== undefined) result.serverCpu = windows.abuse.serverCpu
    result.serverRssEndMB = Math.round(rssEnd / 1024 / 102.4) / 10
    return result
  } finally {
    await server.stop()
  }
}
