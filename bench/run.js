#!/usr/bin/env node
// `npm run bench`: runs the scenarios against several servers side by side in one run and
// prints a table of medians, spreads and ratios (docs/performance.md explains every column).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { report } from './lib/report.js'
import { runOne } from './lib/runner.js'
import { hasTaskset, isRoomcast, oneWorkerOf, ROOT, SERVERS, serverDef } from './lib/servers.js'

const USAGE = `Usage: npm run bench -- [options]
  --scenario LIST   fanout,storm,channels,rtt,reconnect,abuse,presence (default: all but reconnect,
                    abuse and presence)
  --servers LIST    ${Object.keys(SERVERS).join(',')} (default: roomcast,ws-coalesced,ws-plain,socketio;
                    with --scenario presence alone: roomcast-redis2,roomcast-presence-redis2);
                    a roomcast kind with -wN (roomcast-w2) is that kind served by N workers
  --workers LIST    serve every roomcast kind of --servers with each of these worker counts,
                    side by side (e.g. 1,2: roomcast and roomcast-w2; default 1). Every process
                    of a service (primary and workers) is pinned to the server core and counted
  --repeat N        runs of every scenario per server, interleaved (default 3)
  --subs LIST       fan-out subscriber counts (default 1000,5000)
  --storm LIST      connect-storm sizes (default 5000,19000)
  --storm-concurrency N  handshakes in flight during a storm (default 500)
  --storm-warm LIST connections the load generator opens and closes before each measured storm,
                    outside the window (default 0: a fresh server). 0,10000 runs every storm
                    cold and warm side by side (\`storm 10000\` and \`storm 10000 warm\`): a
                    fresh process's own warm-up (JIT, inline caches) apart from a connection's
                    own cost. The storm starts once the server has closed its side of every
                    warm-up connection and its CPU is quiet (bench/lib/runner.js settle)
  --handshake-timeout MS storm: a handshake not ready within MS fails (default 15000); every
                    failure is counted by its cause (HTTP status, close code, socket error, or a
                    timeout and how far it got: TCP connect, 101, first frame)
  --reconnect N     subscribers that drop and reconnect together (default 5000), while
                    --reconnect-rate publications/s go on (default 50), away --away MS (default 1000)
  --attackers N     abuse: connections sending heavy frames (default 5), each one every
                    --attack-every MS (default 10: the default frame rate limit), of
                    --frame-bytes N (default 1048000) holding --frame-keys N keys (default 100000);
                    a victim pings with --ping-gap MS between round trips (default 5).
                    Run it against roomcast-limits (every limit at its default)
  --presence-subs N presence: subscribers on one channel split over the service's instances
                    (default 10000); --status-calls N get_status and presence_stats calls (default
                    20000), --list-calls N presence calls (default 200), from --callers N
                    connections (default 8), then the fan-out closed loop (--window, --measure)
  --rate N          fixed offered load for the latency phase, deliveries/s (default 20000; measured
                    over twice the --measure window)
  --matched F       fan-out: a phase at a fixed rate of F times one worker's closed-loop rate in
                    the round, offered alike to a roomcast kind and its -wN variants (each round runs
                    the one-worker kind first), so that workers are compared at equal work (default
                    0.5 with --workers listing more than 1, else 0: no such phase); measured over
                    twice the --measure window; --matched-rate N instead offers every kind
                    N deliveries/s (N ÷ subscribers publications/s): the same pace in every round
                    and run, where one worker's closed loop moves with the host's load
  --window N        fan-out publishes in flight in the closed loop (default 8)
  --measure MS      measured window per phase (default 4000); --warmup MS (default 1000): the
                    closed loop's traffic before its window. Fan-out takes a list: 1000,8000 runs
                    every fan-out at each warm-up side by side (\`fanout 1000\` and
                    \`fanout 1000 warm 8000\`); other scenarios use the first
  --no-pin          do not pin server and load generator to different cores
  --redis-core LIST where a kind's bench-started Redis runs: server (default: on the server's
                    core, sharing it) and/or loadgen (on the load generator's core, as a
                    deployment keeps Redis off the service's core). Both (server,loadgen): each
                    kind with a Redis twice per round, the second named <kind>@redis-loadgen
  --heap            storm: also read each server's heap and RSS after a forced GC (node
                    --expose-gc, bench/lib/heap-probe.mjs) at the start and with the connections
                    held: heap KB per held connection, and the idle heap and RSS
  --node-flags LIST extra node options for every server process, comma-separated
                    (e.g. --node-flags=--no-opt: V8 without its optimising compiler; workers
                    inherit them)
  --cpu-prof        run the servers under node --cpu-prof (profiles in bench/results/profiles;
                    summarise one with node bench/profile-summary.js FILE)
  --report FILE     print the tables of a saved run (bench/results/*.json) and exit`

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'fanout,storm,channels,rtt' },
    servers: { type: 'string' },
    workers: { type: 'string', default: '1' },
    repeat: { type: 'string', default: '3' },
    subs: { type: 'string', default: '1000,5000' },
    storm: { type: 'string', default: '5000,19000' },
    'storm-concurrency': { type: 'string', default: '500' },
    'storm-warm': { type: 'string', default: '0' },
    'handshake-timeout': { type: 'string', default: '15000' },
    reconnect: { type: 'string', default: '5000' },
    'presence-subs': { type: 'string', default: '10000' },
    'status-calls': { type: 'string', default: '20000' },
    'list-calls': { type: 'string', default: '200' },
    callers: { type: 'string', default: '8' },
    'reconnect-rate': { type: 'string', default: '50' },
    away: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '20000' },
    matched: { type: 'string' },
    'matched-rate': { type: 'string' },
    attackers: { type: 'string', default: '5' },
    'attack-every': { type: 'string', default: '10' },
    'frame-bytes': { type: 'string', default: '1048000' },
    'frame-keys': { type: 'string', default: '100000' },
    'ping-gap': { type: 'string', default: '5' },
    window: { type: 'string', default: '8' },
    measure: { type: 'string', default: '4000' },
    warmup: { type: 'string', default: '1000' },
    'no-pin': { type: 'boolean', default: false },
    'redis-core': { type: 'string', default: 'server' },
    'cpu-prof': { type: 'boolean', default: false },
    'node-flags': { type: 'string', default: '' },
    heap: { type: 'boolean', default: false },
    report: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
})
if (values.help) {
  console.log(USAGE)
  process.exit(0)
}
if (values.report !== undefined) {
  const saved = JSON.parse(readFileSync(values.report, 'utf8'))
  const names = [...new Set(saved.results.map((r) => r.name))]
  const savedPlan = names.map((name) => ({ name, scenario: saved.results.find((r) => r.name === name).scenario }))
  console.log(report(savedPlan, [...new Set(saved.results.map((r) => r.server))], saved.results, saved.meta))
  process.exit(0)
}
if (!existsSync(join(ROOT, 'dist', 'src', 'cli.js'))) {
  console.error('roomcast is not built: run `npm run build` first')
  process.exit(1)
}

const list = (s) => s.split(',').map((x) => x.trim()).filter((x) => x.length > 0)
const nums = (s) => list(s).map(Number)
const workerCounts = nums(values.workers)
if (workerCounts.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--workers takes positive whole numbers, not ${values.workers}`)
// Each roomcast kind once per worker count (N = 1 is the kind itself), next to each other.
const defaultServers = values.scenario === 'presence' ? 'roomcast-redis2,roomcast-presence-redis2' : 'roomcast,ws-coalesced,ws-plain,socketio'
const servers = [...new Set(list(values.servers ?? defaultServers).flatMap((s) => (isRoomcast(s) ? workerCounts.map((n) => (n === 1 ? s : `${s}-w${n}`)) : [s])))]
for (const s of servers) if (serverDef(s) === undefined) throw new Error(`unknown server ${s}`)
const placements = list(values['redis-core'])
if (placements.length === 0 || placements.some((p) => p !== 'server' && p !== 'loadgen')) throw new Error(`--redis-core takes server and/or loadgen, not ${values['redis-core']}`)
// A kind with its own Redis once per placement (runner.js reads the suffix); the others once.
const hasRedis = (s) => serverDef(s).redis === true || serverDef(s).redisCluster === true
const labels = servers.flatMap((s) => (hasRedis(s) ? placements.map((p) => (p === 'server' ? s : `${s}@redis-${p}`)) : [s]))
const repeat = Number(values.repeat)
const pin = !values['no-pin'] && hasTaskset && availableParallelism() >= 2
const cores = pin ? { server: 0, loadgen: 1 } : { server: null, loadgen: null }
const profileDir = join(ROOT, 'bench', 'results', 'profiles')
const nodeFlags = values['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []
nodeFlags.push(...list(values['node-flags']))
if (values.heap) {
  nodeFlags.push('--expose-gc', '--import', pathToFileURL(join(ROOT, 'bench', 'lib', 'heap-probe.mjs')).href)
  process.env.ROOMCAST_HEAP_DIR = mkdtempSync(join(tmpdir(), 'roomcast-heap-'))
}
const matchFraction = Number(values.matched ?? (workerCounts.some((n) => n > 1) || values['matched-rate'] !== undefined ? '0.5' : '0'))
if (!(matchFraction >= 0 && matchFraction <= 1)) throw new Error(`--matched takes a fraction from 0 to 1, not ${values.matched}`)
const matchDeliveries = values['matched-rate'] === undefined ? null : Number(values['matched-rate'])
if (matchDeliveries !== null && !(matchDeliveries > 0)) throw new Error(`--matched-rate takes deliveries/s, not ${values['matched-rate']}`)
const warmups = nums(values.warmup)
const common = { warmupMs: warmups[0], measureMs: Number(values.measure), concurrency: 200 }

/** Every run: a name, the scenario and its config. */
const plan = []
for (const sc of list(values.scenario)) {
  if (sc === 'fanout') {
    for (const n of nums(values.subs)) {
      for (const [i, w] of warmups.entries()) plan.push({ name: i === 0 ? `fanout ${n}` : `fanout ${n} warm ${w}`, scenario: 'fanout', cfg: { ...common, warmupMs: w, subscribers: n, window: Number(values.window), rate: Number(values.rate), matchFraction } })
    }
  }
  else if (sc === 'storm') {
    for (const n of nums(values.storm)) {
      for (const warm of nums(values['storm-warm'])) {
        plan.push({ name: warm > 0 ? `storm ${n} warm` : `storm ${n}`, scenario: 'storm', cfg: { ...common, connections: n, warmConnections: warm, concurrency: Number(values['storm-concurrency']), handshakeTimeoutMs: Number(values['handshake-timeout']) } })
      }
    }
  }
  else if (sc === 'channels') plan.push({ name: 'channels 5000', scenario: 'channels', cfg: { ...common, subscribers: 5000, window: 64, sharedEvery: 1000 } })
  else if (sc === 'reconnect') plan.push({ name: `reconnect ${values.reconnect}`, scenario: 'reconnect', cfg: { ...common, concurrency: 500, subscribers: Number(values.reconnect), pubsPerSec: Number(values['reconnect-rate']), awayMs: Number(values.away), warmupMs: 2000 } })
  else if (sc === 'abuse') plan.push({ name: `abuse ${values.attackers}×${values['frame-keys']} keys`, scenario: 'abuse', cfg: { ...common, attackers: Number(values.attackers), attackEveryMs: Number(values['attack-every']), frameBytes: Number(values['frame-bytes']), frameKeys: Number(values['frame-keys']), pingGapMs: Number(values['ping-gap']) } })
  else if (sc === 'presence') plan.push({ name: `presence ${values['presence-subs']}`, scenario: 'presence', cfg: { ...common, subscribers: Number(values['presence-subs']), callers: Number(values.callers), statusCalls: Number(values['status-calls']), statsCalls: Number(values['status-calls']), listCalls: Number(values['list-calls']), window: Number(values.window) } })
  else if (sc === 'rtt') plan.push({ name: 'rtt', scenario: 'rtt', cfg: { ...common, warmupRequests: 2000, requests: 20000 } })
  else throw new Error(`unknown scenario ${sc}\n${USAGE}`)
}

const started = Date.now()
const load = [loadavg()[0]]
const redisWhere = placements.map((p) => (p === 'server' ? 'Redis on core 0' : 'Redis on core 1 (@redis-loadgen)')).join(' and ')
console.log(`bench: ${plan.map((p) => p.name).join(', ')} × ${labels.join(', ')} × ${repeat}; ${pin ? `server on core 0, load generator on core 1, ${redisWhere}` : 'not pinned'}; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`)
const results = []
for (const p of plan) {
  for (let r = 0; r < repeat; r++) {
    for (const kind of labels) {
      const t0 = Date.now()
      let result
      try {
        result = await runOne(kind, p.scenario, { ...p.cfg, ...matchedRate(kind, p, r) }, cores, nodeFlags)
      } catch (err) {
        result = { failed: err.message.slice(0, 300) }
      }
      results.push({ name: p.name, scenario: p.scenario, server: kind, repeat: r, loadavg: loadavg()[0], result })
      load.push(loadavg()[0])
      console.log(`  ${p.name} #${r + 1} ${kind}: ${brief(result)} (${((Date.now() - t0) / 1000).toFixed(1)} s)`)
    }
  }
}
const elapsed = Math.round((Date.now() - started) / 1000)
const meta = { date: new Date().toISOString(), argv: process.argv.slice(2), pinned: pin, elapsedSeconds: elapsed, loadavg: { min: Math.min(...load), max: Math.max(...load) }, node: process.version, cpus: availableParallelism() }
console.log(`\n${report(plan, labels, results, meta)}`)
mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true })
const file = join(ROOT, 'bench', 'results', `${meta.date.replace(/[:.]/g, '-')}.json`)
writeFileSync(file, JSON.stringify({ meta, results }, null, 2))
console.log(`raw results: ${file}`)

/**
 * A `-wN` kind's matched rate: the same publications/s its one-worker self was offered in this
 * round (that kind runs first in the round), so both phases do the same work (with
 * --matched-rate: that rate for every kind, in every round); {} for the
 * one-worker kind itself (it takes --matched times its own closed-loop rate) or when that round
 * has no one-worker result (then the kind takes its own, and the report says so).
 */
function matchedRate(kind, p, round) {
  if (!(p.cfg.matchFraction > 0)) return {}
  if (matchDeliveries !== null) return { matchPubsPerSec: matchDeliveries / p.cfg.subscribers }
  const [base, placement] = kind.split('@')
  const one = oneWorkerOf(base)
  if (one === null) return {}
  const ref = placement === undefined ? one : `${one}@${placement}`
  const got = results.find((x) => x.name === p.name && x.repeat === round && x.server === ref)?.result.matched
  return got === undefined ? {} : { matchPubsPerSec: got.offeredPubsPerSec }
}

function brief(r) {
  if (r.failed !== undefined) return `FAILED ${r.failed}`
  if (r.join !== undefined) {
    const per = (phase, ops) => (r[phase]?.roomcastSeconds == null ? '–' : Math.round((r[phase].roomcastSeconds / ops) * 1e7) / 10)
    const walk = r.walk == null ? '' : `, whole list in ${r.walk.pages / r.walk.walks} pages ${per('walk', r.walk.walks)} µs`
    const calls = r.stats === null ? '' : `, presence_stats ${per('stats', r.stats.calls)} µs/call, presence ${per('list', r.list.calls)} µs/call (${Math.round(r.list.answerBytes / 1024)} KB)${walk}`
    return `${r.subscribers} subs on ${r.instances} instances: join ${per('join', r.join.ops)} µs/subscribe, get_status ${per('status', r.status.calls)} µs/call${calls}; fan-out ${r.window.deliveriesPerSec} deliveries/s, ${per('window', r.window.delivered)} µs/delivery, lost ${r.lost}, out of order ${r.outOfOrder}`
  }
  if (r.window !== undefined) {
    const rate = r.rate === undefined ? '' : `, p99 at rate ${r.rate.latencyMs.p99} ms`
    const matched = r.matched === undefined ? '' : `, matched rate ${r.matched.offeredPubsPerSec} publications/s offered, ${r.matched.publishesPerSec} sent`
    return `${r.window.deliveriesPerSec} deliveries/s${rate}${matched}, lost ${r.lost}, out of order ${r.outOfOrder}, loadgen cpu ${r.window.loadgenCpu}%`
  }
  if (r.attackers !== undefined) return `victim ping p50 ${r.latencyMs.p50} / p99 ${r.latencyMs.p99} / max ${r.latencyMs.max} ms (quiet p99 ${r.quiet.p99} ms); ${r.attackers} attackers sent ${r.attackFramesPerSec} frames/s of ${r.frameBytes} bytes, ${r.frameKeys} keys; answers/s ${JSON.stringify(r.answersPerSec)}`
  if (r.allRecoveredMs !== undefined) return `${r.subscribers} subs, all back in ${r.allRecoveredMs} ms, lost ${r.lost}, duplicates ${r.duplicates}, not recovered ${r.notRecovered}`
  if (r.connectionsPerSec !== undefined) {
    const heap = r.heap == null ? '' : `, heap after GC ${r.heap.perConnectionKB} KB/conn (idle heap ${r.heap.idleHeapMB} MB, RSS ${r.heap.idleRssMB} MB)`
    const cpu = r.storm?.roomcastSeconds == null ? '' : `, ${Math.round((r.storm.roomcastSeconds / r.connections) * 1e6)} µs/conn`
    const causes = r.errors > 0 && r.errorCauses !== undefined ? ` (${Object.entries(r.errorCauses).map(([k, v]) => `${v} ${k}`).join(', ')})` : ''
    const lag = r.loadgenLagMs == null ? '' : ` (load generator's loop delay p99/max ${r.loadgenLagMs.p99}/${r.loadgenLagMs.max} ms)`
    const hs = r.handshakeMs == null ? '' : `, handshake p50/p99/max ${r.handshakeMs.p50}/${r.handshakeMs.p99}/${r.handshakeMs.max} ms${lag}`
    const settled = r.warmSettle == null ? '' : `; after the warm-up ${r.warmSettle.socketsAtStart} server sockets still open, settled in ${r.warmSettle.waitedMs} ms using ${r.warmSettle.cpuMs} ms CPU${r.warmSettle.timedOut ? ` (gave up, ${r.warmSettle.socketsOpen} sockets still open)` : ''}`
    return `${r.connections} conns, ${r.errors} errors${causes}, ${r.connectionsPerSec}/s${hs}, ${r.rss?.perConnectionKB} KB/conn${cpu}${heap}${settled}`
  }
  return `${r.roundTripsPerSec} rt/s, p99 ${r.latencyMs.p99} ms`
}
