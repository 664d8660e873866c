// The tables of bench/cluster-channels.mjs: per variant, medians over the rounds with their range,
// and where each publication's Redis CPU went (every redis-server apart).

const median = (xs) => {
  const a = [...xs].sort((x, y) => x - y)
  if (a.length === 0) return null
  const m = Math.floor(a.length / 2)
  return a.length % 2 === 1 ? a[m] : (a[m - 1] + a[m]) / 2
}
const fmt = (x, digits = 0) => (x === null || x === undefined || Number.isNaN(x) ? '–' : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }))
const sum = (xs) => xs.reduce((a, b) => a + b, 0)

/** "median (min–max)" of the numbers among `xs`. */
function spread(xs, digits = 0) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x))
  if (v.length === 0) return '–'
  if (v.length === 1) return fmt(v[0], digits)
  return `${fmt(median(v), digits)} (${fmt(Math.min(...v), digits)}–${fmt(Math.max(...v), digits)})`
}

/** Ratios as "median× (min–max)". */
function times(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x))
  if (v.length === 0) return '–'
  if (v.length === 1) return `${fmt(v[0], 2)}×`
  return `${fmt(median(v), 2)}× (${fmt(Math.min(...v), 2)}–${fmt(Math.max(...v), 2)})`
}

/** CPU µs per publication of a process at `percent` of a core, in a run of `r.window.publishesPerSec`. */
export const usPerPublication = (r, percent) => (typeof percent === 'number' && r.window.publishesPerSec > 0 ? (percent / 100 / r.window.publishesPerSec) * 1e6 : null)

/** Labels of a run's processes by role. */
const labels = (run, role) => (run.processes ?? []).filter((p) => p.role === role).map((p) => p.label)

/**
 * Each master's share of the masters' CPU over the window, m1 first; null for one Redis. A share is
 * of the masters' total only: replicas are reported apart.
 */
export function masterShares(r, processes = null) {
  const cpu = r.window?.redisProcessCpu
  if (cpu === undefined) return null
  const masters = processes === null ? Object.keys(cpu).filter((k) => /^m\d+$/.test(k)).sort() : processes.filter((p) => p.role === 'master').map((p) => p.label)
  if (masters.length < 2) return null
  const total = sum(masters.map((m) => cpu[m] ?? 0))
  return total > 0 ? masters.map((m) => (cpu[m] ?? 0) / total) : null
}

/** Each master's share of the publishing commands it ran (SPUBLISH, or PUBLISH as entry node): the shard split of the publications. */
function callShares(r, masters) {
  const calls = masters.map((m) => {
    const c = r.commandCalls?.[m]
    return c === undefined ? 0 : c.publish + c.spublish + c.evalsha
  })
  const total = sum(calls)
  return total > 0 ? calls.map((c) => c / total) : null
}

/**
 * Per process, the publications it handled (entering as a command, or received over the cluster
 * bus) as a fraction of all publications (every process's publishing commands together).
 */
function handled(r, label) {
  const entering = (l) => {
    const c = r.commandCalls?.[l]
    return c === undefined ? 0 : c.publish + c.spublish + c.evalsha
  }
  const total = sum(Object.keys(r.commandCalls ?? {}).map(entering))
  return total > 0 && r.commandCalls?.[label] !== undefined ? (entering(label) + (r.busReceived?.[label] ?? 0)) / total : null
}

function table(head, rows) {
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n')
}

const DESCRIBE = {
  one: 'roomcast ×3, one Redis (PUBLISH)',
  cluster: 'roomcast ×3, cluster (SPUBLISH)',
  'publish-one': 'Redis alone: one Redis, PUBLISH, same rate',
  spublish: 'Redis alone: cluster, SPUBLISH, same rate',
  publish: 'Redis alone: cluster, plain PUBLISH, same rate',
}

/** The markdown report of a run. */
export function clusterReport(results, meta) {
  const runs = results.filter((x) => x.variant !== 'idle')
  const variants = [...new Set(runs.map((x) => x.variant))]
  const ok = (v) => runs.filter((x) => x.variant === v && x.result.failed === undefined)
  const failed = (v) => runs.filter((x) => x.variant === v && x.result.failed !== undefined).length
  const redisTotal = (x) => sum(Object.values(x.result.window.redisProcessCpu ?? {}).map((v) => v ?? 0))
  const totalUs = (x) => usPerPublication(x.result, redisTotal(x))
  // One Redis's per-publication CPU in the same round: each variant's ratio to it, paired per round.
  // roomcast's runs against roomcast on one Redis, Redis-alone runs against Redis alone on one Redis.
  const refOf = (v) => (v === 'one' || v === 'cluster' ? 'one' : 'publish-one')
  const oneOf = (v, round) => runs.find((x) => x.variant === refOf(v) && x.round === round && x.result.failed === undefined)
  const vsOne = (x) => {
    const o = oneOf(x.variant, x.round)
    return o === undefined || totalUs(o) === null ? null : totalUs(x) / totalUs(o)
  }
  const roleUs = (x, role) => usPerPublication(x.result, sum(labels(x, role).map((l) => x.result.window.redisProcessCpu?.[l] ?? 0)))
  const roomcastUs = (x) => usPerPublication(x.result, x.result.window.instancesCpu)
  const shareCell = (xs, fn) => {
    const per = xs.map(fn).filter((s) => s !== null)
    if (per.length === 0) return '–'
    const n = per[0].length
    return Array.from({ length: n }, (_, i) => spread(per.map((s) => s[i]), 2)).join(' / ')
  }
  const idle = results.find((x) => x.variant === 'idle')?.result.idlePercent
  // The same, less what the processes burn with nothing to do (cron, cluster bus pings), measured before the runs.
  const netUs = (x) => (idle === undefined ? null : usPerPublication(x.result, redisTotal(x) - sum(Object.keys(x.result.window.redisProcessCpu ?? {}).map((k) => idle[k] ?? 0))))
  const head = ['variant', 'publications/s', 'lost', 'out of order (per publisher and channel)', 'reordered across a subscriber\'s two channels (not promised)', 'Redis CPU % of a core (all processes)', 'Redis CPU µs/publication (all processes)', 'the same, net of idle', '× one Redis (same kind, same round)', 'masters µs/pub', 'replicas µs/pub', "each master's share of the masters' CPU (m1 / m2 / m3)", 'largest share', 'publications entering each master (INFO commandstats over the window)', 'roomcast instances CPU µs/pub']
  const rows = variants.map((v) => {
    const xs = ok(v)
    const masters = labels(xs[0] ?? {}, 'master')
    return [
      `${v}: ${DESCRIBE[v]}${failed(v) > 0 ? ` (${failed(v)} failed)` : ''}`,
      spread(xs.map((x) => x.result.window.publishesPerSec)),
      String(sum(xs.map((x) => x.result.lost ?? 0))),
      xs.some((x) => typeof x.result.outOfOrder === 'number') ? String(sum(xs.map((x) => x.result.outOfOrder ?? 0))) : '–',
      xs.some((x) => typeof x.result.reorderedAcrossChannels === 'number') ? String(sum(xs.map((x) => x.result.reorderedAcrossChannels ?? 0))) : '–',
      spread(xs.map(redisTotal), 1),
      spread(xs.map(totalUs), 1),
      spread(xs.map(netUs), 1),
      v === refOf(v) ? '1' : times(xs.map(vsOne)),
      masters.length > 0 ? spread(xs.map((x) => roleUs(x, 'master')), 1) : '–',
      masters.length > 0 ? spread(xs.map((x) => roleUs(x, 'replica')), 1) : '–',
      masters.length > 1 ? shareCell(xs, (x) => masterShares(x.result, x.processes)) : '–',
      masters.length > 1 ? spread(xs.map((x) => masterShares(x.result, x.processes)).filter((s) => s !== null).map((s) => Math.max(...s)), 2) : '–',
      masters.length > 1 ? shareCell(xs, (x) => callShares(x.result, masters)) : '–',
      spread(xs.map(roomcastUs), 1),
    ]
  })
  // Per process: µs per publication of every redis-server.
  const procs = [...new Set(runs.flatMap((x) => (x.processes ?? []).map((p) => p.label)))]
  const perProcess = variants.map((v) => {
    const xs = ok(v)
    return [v, ...procs.map((l) => (xs.some((x) => x.result.window.redisProcessCpu?.[l] !== undefined) ? spread(xs.map((x) => usPerPublication(x.result, x.result.window.redisProcessCpu?.[l])), 1) : ''))]
  })
  const handledRows = variants.map((v) => {
    const xs = ok(v)
    return [v, ...procs.map((l) => (xs.some((x) => x.result.commandCalls?.[l] !== undefined) ? spread(xs.map((x) => handled(x.result, l)), 2) : ''))]
  })
  const parts = [
    `cluster-channels ${meta.date}, node ${meta.node}, ${meta.cpus} cpus, ${meta.pinned ? 'Redis and instances on core 0, load on core 1' : 'not pinned'}, ${meta.elapsedSeconds} s, load average ${meta.loadavg.min.toFixed(2)}–${meta.loadavg.max.toFixed(2)}, args: ${meta.argv.join(' ') || '(defaults)'}`,
    `\n${table(head, rows)}`,
    `\nRedis CPU µs per publication, each process (median (min–max) over the rounds):\n\n${table(['variant', ...procs], perProcess)}`,
    `\nPublications each process handled, as a fraction of all publications (entering as a command, or received over the cluster bus; INFO commandstats, CLUSTER INFO):\n\n${table(['variant', ...procs], handledRows)}`,
  ]
  if (idle !== undefined) parts.push(`\nIdle CPU % of a core before the runs: ${Object.entries(idle).map(([k, v]) => `${k} ${v}`).join(', ')}`)
  return parts.join('\n')
}
