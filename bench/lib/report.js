// Formats a run's results as markdown tables: medians over the repeats with their spread,
// and ratios paired per repeat (server ÷ reference measured in the same round).
import { isRoomcast, oneWorkerOf } from './servers.js'

const median = (xs) => {
  const a = [...xs].sort((x, y) => x - y)
  if (a.length === 0) return null
  const m = Math.floor(a.length / 2)
  return a.length % 2 === 1 ? a[m] : (a[m - 1] + a[m]) / 2
}

const fmt = (x, digits = 0) => (x === null || x === undefined || Number.isNaN(x) ? '–' : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }))

function pick(results, name, server, get) {
  const out = []
  for (const r of results) {
    if (r.name !== name || r.server !== server || r.result.failed !== undefined) continue
    const v = get(r.result)
    if (typeof v === 'number') out[r.repeat] = v
  }
  return out
}

/** "median (min–max)" of one metric over the repeats. */
function spread(values, digits = 0) {
  const xs = values.filter((x) => typeof x === 'number')
  if (xs.length === 0) return '–'
  if (xs.length === 1) return fmt(xs[0], digits)
  return `${fmt(median(xs), digits)} (${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)})`
}

/** Median of per-repeat ratios server ÷ reference, with their range. */
function ratio(results, name, server, ref, get) {
  if (server === ref) return '1'
  const a = pick(results, name, server, get)
  const b = pick(results, name, ref, get)
  const rs = []
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (typeof a[i] === 'number' && typeof b[i] === 'number' && b[i] > 0) rs.push(a[i] / b[i])
  if (rs.length === 0) return '–'
  if (rs.length === 1) return `${fmt(rs[0], 2)}×`
  return `${fmt(median(rs), 2)}× (${fmt(Math.min(...rs), 2)}–${fmt(Math.max(...rs), 2)})`
}

/** A `-wN` kind against the same kind with one worker (paired per round); '1' for that kind itself. */
function vsOneWorker(results, name, server, get) {
  const ref = oneWorkerOf(server) ?? (isRoomcast(server) ? server : null)
  return ref === null ? '–' : ratio(results, name, server, ref, get)
}

/** Connections each worker held, and the busiest ÷ the least busy (median over the rounds). */
function perWorker(results, name, server) {
  const rounds = results.filter((r) => r.name === name && r.server === server && Array.isArray(r.result.perWorker)).map((r) => r.result.perWorker)
  if (rounds.length === 0) return ['–', '–']
  const skew = rounds.map((w) => Math.max(...w) / Math.max(1, Math.min(...w)))
  return [rounds.map((w) => w.join(' / ')).join('; '), spread(skew, 3)]
}

const total = (results, name, server, get) => {
  const xs = pick(results, name, server, get).filter((x) => typeof x === 'number')
  return xs.length === 0 ? '–' : String(xs.reduce((a, b) => a + b, 0))
}

/** A storm's failed handshakes over every round, with their causes summed (older results: the total alone). */
function errorsWithCauses(results, name, server) {
  const sum = total(results, name, server, (r) => r.errors)
  const causes = {}
  for (const r of results) {
    if (r.name !== name || r.server !== server || r.result.failed !== undefined) continue
    for (const [cause, count] of Object.entries(r.result.errorCauses ?? {})) causes[cause] = (causes[cause] ?? 0) + count
  }
  const named = Object.entries(causes).map(([cause, count]) => `${count} ${cause}`)
  return named.length === 0 ? sum : `${sum} (${named.join('; ')})`
}

function failures(results, name, server) {
  const n = results.filter((r) => r.name === name && r.server === server && r.result.failed !== undefined).length
  return n === 0 ? '' : ` (${n} failed)`
}

function table(head, rows) {
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n')
}

/** Server CPU time per delivery in the closed loop (µs): contention on a shared host steals wall time, not CPU time. */
const cpuPerDelivery = (r) => (r.window.serverCpu > 0 && r.window.deliveriesPerSec > 0 ? (r.window.serverCpu / 100 / r.window.deliveriesPerSec) * 1e6 : null)

/** The same at the fixed offered load: one publication per event-loop turn whatever the server, so no batching differences. */
const cpuPerDeliveryAtRate = (r) => (r.rate?.serverCpu > 0 && r.rate.deliveriesPerSec > 0 ? (r.rate.serverCpu / 100 / r.rate.deliveriesPerSec) * 1e6 : null)

/**
 * The same at the matched rate (run.js --matched): a `-wN` kind offered the publications/s its
 * one-worker self was in the round, near the closed loop's pace: equal work, the batching of a busy server.
 */
const cpuPerDeliveryMatched = (r) => (r.matched?.serverCpu > 0 && r.matched.deliveriesPerSec > 0 ? (r.matched.serverCpu / 100 / r.matched.deliveriesPerSec) * 1e6 : null)

/** A matched phase's publications/s sent ÷ offered (under 1: the server did not keep up, or the rate was its own). */
const matchedKept = (r) => (r.matched?.offeredPubsPerSec > 0 ? r.matched.publishesPerSec / r.matched.offeredPubsPerSec : null)

const cpuPerConnection = (r) => (r.serverCpu > 0 && r.connectionsPerSec > 0 ? (r.serverCpu / 100 / r.connectionsPerSec) * 1e6 : null)

/** Publications per second in the closed loop (older results: deliveries ÷ subscribers, right for a fan-out). */
const publishesPerSec = (r) => r.window.publishesPerSec ?? (r.subscribers > 0 ? r.window.deliveriesPerSec / r.subscribers : 0)

/** CPU µs per publication of one process (`cpu`: % of a core) in the closed loop. */
const perPublication = (r, cpu) => (typeof cpu === 'number' && publishesPerSec(r) > 0 ? (cpu / 100 / publishesPerSec(r)) * 1e6 : null)

/** Columns for runs with `--workers` (the -wN kinds): each against its one-worker self, and the primary's part. */
const workerColumns = (R, n, s) => [
  ['CPU/delivery × 1 worker', vsOneWorker(R, n, s, cpuPerDelivery)],
  ['primary CPU %', spread(pick(R, n, s, (r) => r.window.primaryCpu))],
]

/** `share` (% of a core: `instancesCpu`, `redisCpu`) of a fan-out phase (`window`, `matched`) in µs per delivery, or null. */
const phasePerDelivery = (phase, share) => (r) => {
  const p = r[phase]
  return typeof p?.[share] === 'number' && p.deliveriesPerSec > 0 ? (p[share] / 100 / p.deliveriesPerSec) * 1e6 : null
}

/** Redis CPU µs per delivery in the closed loop (a tracked delivery's record: written, then removed on its ack). */
const redisPerDelivery = phasePerDelivery('window', 'redisCpu')

/** The service's own CPU (every roomcast process, Redis left out) µs per delivery in the closed loop. */
const nodePerDelivery = phasePerDelivery('window', 'instancesCpu')

/**
 * A `-durable` kind's figure against its `-memory` twin in the same run (the cost of the durable
 * record); the same Redis placement (`@redis-loadgen`); a `-before` kind against the `-memory`
 * of the same checkout when the run has it, else this checkout's.
 */
function vsMemory(R, n, s, fn) {
  if (!s.includes('-durable')) return '–'
  const twin = s.replace('-durable', '-memory')
  const ran = R.some((r) => r.name === n && r.server === twin)
  return ratio(R, n, s, ran ? twin : twin.replace('-before', ''), fn)
}

/** A kind of ROOMCAST_BEFORE_ROOT's checkout against this checkout's (the same Redis placement), or '–'. */
function vsBefore(R, n, s, fn) {
  const before = s.replace(/(@|$)/, '-before$1')
  return R.some((r) => r.name === n && r.server === before) ? ratio(R, n, s, before, fn) : '–'
}

/** At the matched rate (every kind offered the same publications/s): the service's own CPU, and Redis's, µs per delivery. */
const nodePerDeliveryMatched = phasePerDelivery('matched', 'instancesCpu')
const redisPerDeliveryMatched = phasePerDelivery('matched', 'redisCpu')
const bothPerDeliveryMatched = (r) => {
  const node = nodePerDeliveryMatched(r)
  const redis = redisPerDeliveryMatched(r)
  return node === null || redis === null ? null : node + redis
}

/**
 * With --matched-rate, the durable record's cost at one pace (issue 20): the closed loop runs the
 * durable kinds slower than their twins, and CPU per delivery moves with the pace.
 */
const matchedRedisColumns = (R, n, s) => [
  ['matched rate: sent ÷ offered', spread(pick(R, n, s, matchedKept), 2)],
  ['Node CPU µs/delivery at matched rate', spread(pick(R, n, s, nodePerDeliveryMatched), 2)],
  ['at matched rate: Node × in-memory tracking', vsMemory(R, n, s, nodePerDeliveryMatched)],
  ['Redis CPU µs/delivery at matched rate', spread(pick(R, n, s, redisPerDeliveryMatched), 2)],
  ['at matched rate: Node + Redis × in-memory tracking', vsMemory(R, n, s, bothPerDeliveryMatched)],
]

/** Columns for runs with a bench-started redis-server. */
const redisColumns = (R, n, s, show) => [
  ['× in-memory tracking', vsMemory(R, n, s, (r) => r.window.deliveriesPerSec)],
  ['Node CPU µs/delivery (Redis left out)', spread(pick(R, n, s, nodePerDelivery), 2)],
  ['Node CPU/delivery × in-memory tracking', vsMemory(R, n, s, nodePerDelivery)],
  ['Redis CPU µs/delivery', spread(pick(R, n, s, redisPerDelivery), 2)],
  ...(show.before
    ? [
        ['deliveries/s × before', vsBefore(R, n, s, (r) => r.window.deliveriesPerSec)],
        ['Redis CPU/delivery × before', vsBefore(R, n, s, redisPerDelivery)],
        ['Node CPU/delivery × before', vsBefore(R, n, s, nodePerDelivery)],
      ]
    : []),
  ['Redis CPU µs/publication', spread(pick(R, n, s, (r) => perPublication(r, r.window.redisCpu)), 1)],
  ['Redis µs per PUBLISH (its commandstats)', spread(pick(R, n, s, (r) => r.redisPublishUsec), 2)],
  ['Redis clients', spread(pick(R, n, s, (r) => r.redisClients))],
]

/** The columns every delivery scenario (fanout, channels) ends with: loss, order and CPU. */
const deliveryTail = (R, n, s) => [
  ['lost', total(R, n, s, (r) => r.lost)],
  ['out of order', total(R, n, s, (r) => r.outOfOrder)],
  ['server CPU µs/delivery', spread(pick(R, n, s, cpuPerDelivery), 2)],
  ['CPU/delivery × ws-coalesced', ratio(R, n, s, 'ws-coalesced', cpuPerDelivery)],
  ['server CPU %', spread(pick(R, n, s, (r) => r.window.serverCpu))],
  ['loadgen CPU %', spread(pick(R, n, s, (r) => r.window.loadgenCpu))],
]

/** Roomcast CPU µs (every instance) per operation of a presence phase, or null. */
const perOp = (phase, ops) => (r) => {
  const w = r[phase]
  const n = ops(r)
  return w === null || w === undefined || typeof w.roomcastSeconds !== 'number' || !(n > 0) ? null : (w.roomcastSeconds / n) * 1e6
}
/** Redis CPU µs per operation of a presence phase, or null. */
const redisPerOp = (phase, ops) => (r) => {
  const w = r[phase]
  const n = ops(r)
  return w === null || w === undefined || typeof w.redisSeconds !== 'number' || !(n > 0) ? null : (w.redisSeconds / n) * 1e6
}
const PRESENCE_OFF = 'roomcast-redis2'
const joinCpu = perOp('join', (r) => r.join.ops)
const leaveCpu = perOp('leave', (r) => r.leave.ops)
const statusCpu = perOp('status', (r) => r.status.calls)
const statsCpu = perOp('stats', (r) => r.stats?.calls)
const listCpu = perOp('list', (r) => r.list?.calls)
const fanoutCpu = perOp('window', (r) => r.window.delivered)

const COLUMNS = {
  presence: (R, n, s) => [
    ['server', s + failures(R, n, s)],
    ['presence', pick(R, n, s, (r) => (r.presence ? 1 : 0)).some((x) => x === 1) ? 'on' : 'off'],
    ['join: CPU µs/subscribe (all instances)', spread(pick(R, n, s, joinCpu), 1)],
    ['join × presence off', ratio(R, n, s, PRESENCE_OFF, joinCpu)],
    ['join: Redis µs/subscribe', spread(pick(R, n, s, redisPerOp('join', (r) => r.join.ops)), 1)],
    ['join: subscribes/s (until every instance counts them)', spread(pick(R, n, s, (r) => (r.join.ms > 0 ? (r.join.ops / r.join.ms) * 1000 : null)))],
    ['get_status: CPU µs/call', spread(pick(R, n, s, statusCpu), 1)],
    ['presence_stats: CPU µs/call', spread(pick(R, n, s, statsCpu), 1)],
    ['presence_stats calls/s', spread(pick(R, n, s, (r) => r.stats?.perSec))],
    ['presence (list): CPU µs/call', spread(pick(R, n, s, listCpu))],
    ['presence: answer KB', spread(pick(R, n, s, (r) => (r.list ? r.list.answerBytes / 1024 : null)))],
    ['presence calls/s', spread(pick(R, n, s, (r) => r.list?.perSec))],
    ['whole list in pages: CPU µs/walk', spread(pick(R, n, s, perOp('walk', (r) => r.walk?.walks)))],
    ['pages/walk', spread(pick(R, n, s, (r) => (r.walk ? r.walk.pages / r.walk.walks : null)))],
    ['bad answers', total(R, n, s, (r) => r.status.bad + (r.stats?.bad ?? 0) + (r.list?.bad ?? 0) + (r.walk?.bad ?? 0) + r.join.refused)],
    ['fan-out deliveries/s', spread(pick(R, n, s, (r) => r.window.deliveriesPerSec))],
    ['fan-out × presence off', ratio(R, n, s, PRESENCE_OFF, (r) => r.window.deliveriesPerSec)],
    ['fan-out: CPU µs/delivery (all instances)', spread(pick(R, n, s, fanoutCpu), 2)],
    ['CPU/delivery × presence off', ratio(R, n, s, PRESENCE_OFF, fanoutCpu)],
    ['fan-out: Redis µs/delivery', spread(pick(R, n, s, redisPerOp('window', (r) => r.window.delivered)), 3)],
    ['lost', total(R, n, s, (r) => r.lost)],
    ['out of order', total(R, n, s, (r) => r.outOfOrder)],
    ['leave: CPU µs/unsubscribe', spread(pick(R, n, s, leaveCpu), 1)],
    ['leave × presence off', ratio(R, n, s, PRESENCE_OFF, leaveCpu)],
    ['loadgen CPU % (fan-out)', spread(pick(R, n, s, (r) => r.window.loadgenCpu))],
  ],
  fanout: (R, n, s, show) => [
    ['server', s + failures(R, n, s)],
    ['deliveries/s', spread(pick(R, n, s, (r) => r.window.deliveriesPerSec))],
    ['× ws-coalesced', ratio(R, n, s, 'ws-coalesced', (r) => r.window.deliveriesPerSec)],
    ['× socketio', ratio(R, n, s, 'socketio', (r) => r.window.deliveriesPerSec)],
    ['× roomcast', ratio(R, n, s, 'roomcast', (r) => r.window.deliveriesPerSec)],
    ['p50 / p99 / max ms at fixed rate', `${spread(pick(R, n, s, (r) => r.rate.latencyMs.p50), 2)} / ${spread(pick(R, n, s, (r) => r.rate.latencyMs.p99), 2)} / ${spread(pick(R, n, s, (r) => r.rate.latencyMs.max), 1)}`],
    ['p99 × ws-coalesced', ratio(R, n, s, 'ws-coalesced', (r) => r.rate.latencyMs.p99)],
    ...deliveryTail(R, n, s),
    ...(show.workers
      ? [
          ['× 1 worker', vsOneWorker(R, n, s, (r) => r.window.deliveriesPerSec)],
          ...workerColumns(R, n, s),
          ['primary CPU µs/publication', spread(pick(R, n, s, (r) => perPublication(r, r.window.primaryCpu)), 1)],
          ['context switches/publication (every server process)', spread(pick(R, n, s, (r) => (r.window.switchesPerSec >= 0 && publishesPerSec(r) > 0 ? r.window.switchesPerSec / publishesPerSec(r) : null)), 1)],
          ['write syscalls/delivery (every server process)', spread(pick(R, n, s, (r) => (r.window.writesPerSec >= 0 && r.window.deliveriesPerSec > 0 ? r.window.writesPerSec / r.window.deliveriesPerSec : null)), 3)],
          ['server CPU µs/delivery at fixed rate', spread(pick(R, n, s, cpuPerDeliveryAtRate), 2)],
          ['at fixed rate × 1 worker', vsOneWorker(R, n, s, cpuPerDeliveryAtRate)],
          ['matched rate: publications/s offered', spread(pick(R, n, s, (r) => r.matched?.offeredPubsPerSec), 1)],
          ['matched rate: sent ÷ offered', spread(pick(R, n, s, matchedKept), 2)],
          ['server CPU µs/delivery at matched rate', spread(pick(R, n, s, cpuPerDeliveryMatched), 2)],
          ['at matched rate × 1 worker (equal work)', vsOneWorker(R, n, s, cpuPerDeliveryMatched)],
        ]
      : []),
    ...(show.redis ? redisColumns(R, n, s, show) : []),
    ...(show.redis && !show.workers && show.matched ? matchedRedisColumns(R, n, s) : []),
  ],
  channels: (R, n, s, show) => [
    ['server', s + failures(R, n, s)],
    ['deliveries/s', spread(pick(R, n, s, (r) => r.window.deliveriesPerSec))],
    ['× ws-coalesced', ratio(R, n, s, 'ws-coalesced', (r) => r.window.deliveriesPerSec)],
    ['p50 / p99 ms', `${spread(pick(R, n, s, (r) => r.window.latencyMs.p50), 2)} / ${spread(pick(R, n, s, (r) => r.window.latencyMs.p99), 2)}`],
    ...deliveryTail(R, n, s),
    ...(show.workers ? [...workerColumns(R, n, s), ['primary CPU µs/publication', spread(pick(R, n, s, (r) => perPublication(r, r.window.primaryCpu)), 1)]] : []),
  ],
  storm: (R, n, s, show) => [
    ['server', s + failures(R, n, s)],
    ['connections/s', spread(pick(R, n, s, (r) => r.connectionsPerSec))],
    ['× ws-plain', ratio(R, n, s, 'ws-plain', (r) => r.connectionsPerSec)],
    ['errors (causes)', errorsWithCauses(R, n, s)],
    ['handshake p99 / max ms', `${spread(pick(R, n, s, (r) => r.handshakeMs?.p99))} / ${spread(pick(R, n, s, (r) => r.handshakeMs?.max))}`],
    ['RSS KB/conn', spread(pick(R, n, s, (r) => r.rss.perConnectionKB), 2)],
    ['RSS × ws-plain', ratio(R, n, s, 'ws-plain', (r) => r.rss.perConnectionKB)],
    ['kernel slab KB/conn (host-wide, ½ of both ends)', spread(pick(R, n, s, (r) => r.rss.kernelSlabKB), 2)],
    ...(show.heap
      ? [
          ['heap after GC KB/conn', spread(pick(R, n, s, (r) => r.heap?.perConnectionKB), 2)],
          ['idle heap / RSS after GC MB', `${spread(pick(R, n, s, (r) => r.heap?.idleHeapMB), 1)} / ${spread(pick(R, n, s, (r) => r.heap?.idleRssMB), 1)}`],
        ]
      : []),
    ['server CPU µs/conn', spread(pick(R, n, s, cpuPerConnection))],
    ['CPU/conn × ws-plain', ratio(R, n, s, 'ws-plain', cpuPerConnection)],
    ...(show.welcome ? [['CPU/conn × ws-welcome', ratio(R, n, s, 'ws-welcome', cpuPerConnection)]] : []),
    ['server CPU %', spread(pick(R, n, s, (r) => r.serverCpu))],
    ['loadgen CPU %', spread(pick(R, n, s, (r) => r.loadgenCpu))],
    ...(show.workers
      ? [
          ['CPU/conn × 1 worker', vsOneWorker(R, n, s, cpuPerConnection)],
          ['primary CPU %', spread(pick(R, n, s, (r) => r.primaryCpu))],
          ['connections per worker (each round)', perWorker(R, n, s)[0]],
          ['busiest ÷ least busy worker', perWorker(R, n, s)[1]],
        ]
      : []),
  ],
  reconnect: (R, n, s) => [
    ['server', s + failures(R, n, s)],
    ['history', pick(R, n, s, (r) => (r.history ? 1 : 0)).some((x) => x === 1) ? 'yes (since)' : 'no'],
    ['all back in ms (from reconnect start)', spread(pick(R, n, s, (r) => r.allRecoveredMs))],
    ['× roomcast (no history)', ratio(R, n, s, 'roomcast', (r) => r.allRecoveredMs)],
    ['lost', total(R, n, s, (r) => r.lost)],
    ['duplicates', total(R, n, s, (r) => r.duplicates)],
    ['recovered: false', total(R, n, s, (r) => r.notRecovered)],
    ['handshakes retried', total(R, n, s, (r) => r.handshakeRetries)],
    ['published while away (per subscriber)', spread(pick(R, n, s, (r) => r.publishedWhileAway))],
    ['server CPU % (reconnect window)', spread(pick(R, n, s, (r) => r.serverCpu))],
  ],
  abuse: (R, n, s) => [
    ['server', s + failures(R, n, s)],
    ['victim ping p50 / p99 / max ms under attack', `${spread(pick(R, n, s, (r) => r.latencyMs.p50), 2)} / ${spread(pick(R, n, s, (r) => r.latencyMs.p99), 2)} / ${spread(pick(R, n, s, (r) => r.latencyMs.max), 1)}`],
    ['quiet p50 / p99 ms', `${spread(pick(R, n, s, (r) => r.quiet.p50), 2)} / ${spread(pick(R, n, s, (r) => r.quiet.p99), 2)}`],
    ['pings', spread(pick(R, n, s, (r) => r.latencyMs.samples))],
    ['attack frames/s sent (all attackers)', spread(pick(R, n, s, (r) => r.attackFramesPerSec))],
    ['frame bytes / keys', `${spread(pick(R, n, s, (r) => r.frameBytes))} / ${spread(pick(R, n, s, (r) => r.frameKeys))}`],
    ['refused/s (RATE_LIMIT_EXCEEDED / DECODE_ERROR)', `${spread(pick(R, n, s, (r) => r.answersPerSec.RATE_LIMIT_EXCEEDED ?? 0))} / ${spread(pick(R, n, s, (r) => r.answersPerSec.DECODE_ERROR ?? 0))}`],
    ['parsed and answered/s (INVALID_CHANNEL)', spread(pick(R, n, s, (r) => r.answersPerSec.INVALID_CHANNEL ?? 0))],
    ['server CPU %', spread(pick(R, n, s, (r) => r.serverCpu))],
    ['loadgen CPU %', spread(pick(R, n, s, (r) => r.loadgenCpu))],
  ],
  rtt: (R, n, s) => [
    ['server', s + failures(R, n, s)],
    ['round trips/s', spread(pick(R, n, s, (r) => r.roundTripsPerSec))],
    ['× ws-coalesced', ratio(R, n, s, 'ws-coalesced', (r) => r.roundTripsPerSec)],
    ['p50 / p99 ms', `${spread(pick(R, n, s, (r) => r.latencyMs.p50), 3)} / ${spread(pick(R, n, s, (r) => r.latencyMs.p99), 3)}`],
    ['server CPU µs/round trip', spread(pick(R, n, s, (r) => (r.serverCpu > 0 ? (r.serverCpu / 100 / r.roundTripsPerSec) * 1e6 : null)), 1)],
    ['server CPU %', spread(pick(R, n, s, (r) => r.serverCpu))],
    ['loadgen CPU %', spread(pick(R, n, s, (r) => r.loadgenCpu))],
  ],
}

/** The markdown report of a whole run. */
export function report(plan, servers, results, meta) {
  const parts = [`bench ${meta.date}, node ${meta.node}, ${meta.cpus} cpus, ${meta.pinned ? 'pinned' : 'not pinned'}, ${meta.elapsedSeconds} s, load average ${meta.loadavg.min.toFixed(2)}–${meta.loadavg.max.toFixed(2)}, args: ${meta.argv.join(' ') || '(defaults)'}`]
  for (const p of plan) {
    const mine = results.filter((r) => r.name === p.name && r.result.failed === undefined)
    // Extra columns only where they say something: runs with -wN kinds, runs with a redis-server.
    const show = { workers: servers.some((s) => oneWorkerOf(s) !== null), redis: mine.some((r) => typeof r.result.redisClients === 'number'), welcome: servers.includes('ws-welcome'), heap: mine.some((r) => r.result.heap !== undefined), before: servers.some((s) => s.includes('-before')), matched: mine.some((r) => r.result.matched !== undefined) }
    const rows = servers.map((s) => COLUMNS[p.scenario](results, p.name, s, show))
    const head = rows[0].map(([h]) => h)
    parts.push(`\n### ${p.name}\n\n${table(head, rows.map((r) => r.map(([, v]) => v)))}`)
  }
  return parts.join('\n')
}
