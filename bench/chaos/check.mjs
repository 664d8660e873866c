#!/usr/bin/env node
// Reads a chaos run's history (bench/chaos/run.mjs) and reports per guarantee (docs/reliability.md):
//   history      accepted events a recovering client never received (0), out of order or twice
//                under one offset (0), refused events that reached someone anyway (0)
//   tracked      accepted events never delivered to a recipient that was connected (0),
//                duplicates (allowed, counted)
//   best effort  loss counted
//   answers      every refused publish answered with a documented error code
//   crashes      process exits and worker deaths other than the injected kills (0)
//   soak         heap and RSS growth after the first ten minutes, connections and rooms left
// Prints a table and writes report.json beside the history.
//   node bench/chaos/check.mjs <dir>
import { createReadStream, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const ROOT = join(fileURLToPath(import.meta.url), '..', '..', '..')

/** Milliseconds after a fault's end during which a loss is still charged to it. */
const MARGIN = {
  kill: 15000, // the instance boots, clients reconnect with backoff, the source listens again
  'kill-worker': 15000,
  stop: 20000, // clients notice the silence (liveness, ping timeouts) and reconnect
  'redis-restart': 10000,
  'redis-stop': 10000,
  'pg-terminate': 15000, // the source reconnects with backoff and LISTENs again
  'proxy-cut': 10000,
  'proxy-stall': 20000,
  'proxy-slow': 20000,
  'proxy-half-open': 25000, // until a ping timeout or the client's liveness check ends the socket
}

async function* lines(file) {
  for await (const line of createInterface({ input: createReadStream(file) })) {
    if (line) yield JSON.parse(line)
  }
}

/** Up intervals per client from its `conn` / `state` records: [from, to). */
function intervals(log, end) {
  const open = new Map()
  const out = new Map()
  const add = (c, from, to) => {
    if (!out.has(c)) out.set(c, [])
    out.get(c).push([from, to])
  }
  for (const r of log) {
    let up
    if (r.k === 'conn') up = r.up
    else if (r.k === 'state') up = r.state === 'open'
    else continue
    if (up && !open.has(r.c)) open.set(r.c, r.t)
    else if (!up && open.has(r.c)) {
      add(r.c, open.get(r.c), r.t)
      open.delete(r.c)
    }
  }
  for (const [c, from] of open) add(c, from, end)
  return out
}

const upThrough = (ivs, from, to) => (ivs ?? []).some(([a, b]) => a <= from && b >= to)

function documentedCodes() {
  const doc = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8')
  return new Set([...doc.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]))
}

/** The harness's file and the client processes' (log-<i>.jsonl, rx-<i>.jsonl, rx-py-<i>.jsonl). */
function historyFiles(dir, kind) {
  const re = new RegExp(`^${kind}(-py)?-\\d+\\.jsonl$`)
  return [`${kind}.jsonl`, ...readdirSync(dir).filter((f) => re.test(f)).sort()].filter((f) => existsSync(join(dir, f))).map((f) => join(dir, f))
}

export async function checkRun(dir) {
  const run = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'))
  // Every file's records in time order (each file is, on one clock): connection intervals
  // (conn/state per client) and fault windows are read in order, and fault ends looked up
  // after their fault. Sorting is stable, so records of one `t` keep their file's order.
  const log = []
  for (const f of historyFiles(dir, 'log')) for await (const r of lines(f)) log.push(r)
  log.sort((x, y) => x.t - y.t)
  const pubs = []
  for await (const p of lines(join(dir, 'pubs.jsonl'))) pubs.push(p)
  const end = log.length === 0 ? 0 : log[log.length - 1].t
  const byUid = new Map(pubs.map((p) => [p.u, p]))
  // rx: client → [records], in the order the client received them. A client's receipts are all
  // in one file, in its order (order checks use it), so the files are read one after another.
  const rx = new Map()
  for (const f of historyFiles(dir, 'rx')) {
    for await (const r of lines(f)) {
      if (!rx.has(r.c)) rx.set(r.c, [])
      rx.get(r.c).push(r)
    }
  }
  const rxSets = new Map([...rx].map(([c, list]) => [c, new Set(list.map((r) => r.u))]))
  const has = (c, u) => rxSets.get(c)?.has(u) ?? false
  const ups = intervals(log, end)
  const faults = log.filter((r) => r.k === 'fault')
  // Each fault's window: from its start to its end (restart, SIGCONT, resume) plus the time
  // clients and sources take to notice and come back (MARGIN). A loss inside one is charged to it.
  const ends = log.filter((r) => r.k === 'fault.end')
  const windows = faults.map((f) => {
    const e = ends.find((x) => x.kind === f.kind && x.target === f.target && x.t >= f.t)
    return { kind: f.kind, target: f.target, from: f.t, to: (e?.t ?? f.t) + MARGIN[f.kind] }
  })
  const faultsNear = (t0, t1) => [...new Set(windows.filter((w) => w.from <= t1 + 5000 && w.to >= t0).map((w) => w.kind))].sort()
  const clientsInfo = log.find((r) => r.k === 'clients') ?? {}
  const report = { run, guarantees: {}, notes: [] }

  // --- history channels ---
  const starts = log.filter((r) => r.k === 'start')
  const notRecovered = new Map() // client/channel → times of recovered:false answers
  for (const r of log.filter((x) => x.k === 'subscribed' && x.re && !x.recovered)) {
    const key = `${r.c} ${r.ch}`
    if (!notRecovered.has(key)) notRecovered.set(key, [])
    notRecovered.get(key).push(r.t)
  }
  // Owed on a history channel: every accepted publication, and every one whose outcome was
  // unknown to its publisher (a timeout, a lost connection) that some client received with an
  // offset: it is in the stream, so every recovering client must get it too.
  const storedAt = new Map()
  for (const [c, list] of rx) {
    if (!c.startsWith('rec-')) continue
    for (const r of list) if (r.off !== null && !storedAt.has(r.u)) storedAt.set(r.u, { off: r.off, ep: r.ep })
  }
  const accepted = pubs
    .filter((p) => p.svc === 'workflow' && p.ch.startsWith('workflow:') && (p.ok === true || storedAt.has(p.u)))
    .map((p) => (p.ok === true && p.off !== undefined && p.off !== null ? p : { ...p, ...storedAt.get(p.u) }))
  const h = { clients: 0, owed: 0, received: 0, lost: 0, lost_after_recovered_false: 0, out_of_order: 0, duplicates: 0, refused_but_delivered: 0, refused_after_timeout_delivered: 0, unknown_outcome_delivered: 0, recovered_false_answers: 0, lost_samples: [] }
  for (const s of starts) {
    if (s.pos === null) continue
    h.clients++
    const key = `${s.c} ${s.ch}`
    const nr = notRecovered.get(key) ?? []
    h.recovered_false_answers += nr.length
    for (const p of accepted) {
      if (p.ch !== s.ch) continue
      // Owed: published after this client's starting position.
      const after = p.ep === s.pos.epoch ? p.off > s.pos.offset : p.ep !== undefined && p.ep !== null ? true : p.t0 > s.t
      if (!after) continue
      h.owed++
      if (has(s.c, p.u)) h.received++
      else if (nr.length > 0) h.lost_after_recovered_false++
      else {
        h.lost++
        if (h.lost_samples.length < 10) h.lost_samples.push({ client: s.c, uid: p.u, via: p.via, offset: p.off, epoch: p.ep, t: p.t, faults_near: faultsNear(p.t0, p.t) })
      }
    }
    // Order as the application saw it: offsets rise within an epoch, never twice.
    const seen = new Map()
    let last = null
    for (const r of (rx.get(s.c) ?? []).filter((x) => x.ch === s.ch && x.off !== null)) {
      const k = `${r.ep}/${r.off}`
      if (seen.has(k)) h.duplicates++
      seen.set(k, true)
      if (last !== null && last.ep === r.ep && r.off < last.off) h.out_of_order++
      last = r
    }
  }
  for (const [c, list] of rx) {
    if (!c.startsWith('rec-')) continue
    for (const r of list) {
      const p = byUid.get(r.u)
      // Refused before anything reached Redis ("redis is not connected"): never stored. Any other
      // BROKER_UNAVAILABLE (no answer within the timeout, connection lost mid-script) is an
      // unknown outcome: the script may have run, or may still run once a stalled Redis resumes.
      if (p?.ok === false && /redis is not connected/.test(p.msg ?? '')) h.refused_but_delivered++
      else if (p?.ok === false) h.refused_after_timeout_delivered++
      if (p?.ok === null) h.unknown_outcome_delivered++
    }
  }
  report.guarantees.history = h

  // --- tracked events (context service, message.new) ---
  const agents = [...ups.keys()].filter((c) => c.startsWith('agent-'))
  const t = { publications: 0, pairs_owed: 0, delivered: 0, lost: 0, lost_in_fault_window: 0, not_owed_recipient_offline: 0, not_owed_delivered_anyway: 0, duplicate_receipts: 0, by_via: {}, lost_by_fault: {}, lost_samples: [] }
  const nAgents = clientsInfo.agents ?? agents.length
  for (const p of pubs.filter((x) => x.svc === 'context' && x.ok === true)) {
    t.publications++
    const recipients = p.ch.startsWith('agents/') ? [p.ch.slice(7)] : Array.from({ length: nAgents }, (_, i) => `agent-${i}`)
    for (const c of recipients) {
      // Owed when the recipient was connected from the publish to 5 s after its answer.
      const owed = upThrough(ups.get(c), p.t0, p.t + 5000)
      const ok = has(c, p.u)
      if (!owed) {
        if (ok) t.not_owed_delivered_anyway++
        else t.not_owed_recipient_offline++
        continue
      }
      t.pairs_owed++
      t.by_via[p.via] ??= { owed: 0, lost: 0 }
      t.by_via[p.via].owed++
      if (ok) t.delivered++
      else {
        t.by_via[p.via].lost++
        const near = faultsNear(p.t0, p.t)
        if (near.length === 0) t.lost++
        else t.lost_in_fault_window++
        const key = `${p.via}: ${near.length === 0 ? 'none' : near.join('+')}`
        t.lost_by_fault[key] = (t.lost_by_fault[key] ?? 0) + 1
        if (t.lost_samples.length < 20) t.lost_samples.push({ recipient: c, uid: p.u, via: p.via, ch: p.ch, t0: p.t0, t: p.t, faults_near: near })
      }
    }
  }
  for (const c of agents) {
    const counts = new Map()
    for (const r of rx.get(c) ?? []) counts.set(r.u, (counts.get(r.u) ?? 0) + 1)
    for (const n of counts.values()) if (n > 1) t.duplicate_receipts += n - 1
  }
  report.guarantees.tracked = t

  // --- best effort (pool channels, raw envelope clients) ---
  // Node raw clients (raw-i) and real Python clients (py-i, bench/chaos/pyclients.py), each kind apart.
  const b = { owed: 0, received: 0, lost: 0, duplicates: 0, lost_by_fault: {}, by_kind: {} }
  const rawSubs = new Map() // client → channel
  for (let i = 0; i < (clientsInfo.raw ?? 0); i++) rawSubs.set(`raw-${i}`, `pool:p${i % clientsInfo.pool_channels}`)
  for (let i = 0; i < (clientsInfo.python ?? 0); i++) rawSubs.set(`py-${i}`, `pool:p${i % clientsInfo.pool_channels}`)
  const kindOf = (c) => (c.startsWith('py-') ? 'python' : 'node')
  for (const p of pubs.filter((x) => x.svc === 'workflow' && x.ch.startsWith('pool:') && x.ok === true)) {
    for (const [c, ch] of rawSubs) {
      if (ch !== p.ch || !upThrough(ups.get(c), p.t0 - 2000, p.t + 2000)) continue
      const k = (b.by_kind[kindOf(c)] ??= { clients: 0, owed: 0, received: 0, lost: 0, lost_outside_fault_window: 0, duplicates: 0 })
      b.owed++
      k.owed++
      if (has(c, p.u)) {
        b.received++
        k.received++
      } else {
        b.lost++
        k.lost++
        const near = faultsNear(p.t0, p.t)
        if (near.length === 0) k.lost_outside_fault_window++
        const key = near.length === 0 ? 'none' : near.join('+')
        b.lost_by_fault[key] = (b.lost_by_fault[key] ?? 0) + 1
      }
    }
  }
  // Each event once per subscriber: the same uid twice on one client is a duplicate.
  for (const c of rawSubs.keys()) {
    const k = (b.by_kind[kindOf(c)] ??= { clients: 0, owed: 0, received: 0, lost: 0, lost_outside_fault_window: 0, duplicates: 0 })
    k.clients++
    const seen = new Set()
    for (const r of rx.get(c) ?? []) {
      if (seen.has(r.u)) {
        b.duplicates++
        k.duplicates++
      }
      seen.add(r.u)
    }
  }
  report.guarantees.best_effort = b

  // --- answers to publishers ---
  const codes = documentedCodes()
  const a = { total: pubs.length, accepted: 0, refused: 0, refused_undocumented_code: 0, no_answer: 0, by_code: {}, no_answer_by_code: {} }
  for (const p of pubs) {
    if (p.ok === true) a.accepted++
    else if (p.ok === false) {
      a.refused++
      a.by_code[p.code] = (a.by_code[p.code] ?? 0) + 1
      if (!codes.has(p.code)) a.refused_undocumented_code++
    } else {
      a.no_answer++
      a.no_answer_by_code[p.code] = (a.no_answer_by_code[p.code] ?? 0) + 1
    }
  }
  report.guarantees.answers = a

  // --- crashes ---
  const c = { injected_kills: faults.filter((f) => f.kind === 'kill').length, injected_worker_kills: faults.filter((f) => f.kind === 'kill-worker' && f.pid !== null).length, unexpected_exits: [], worker_deaths: 0, unexpected_worker_deaths: 0, error_logs: {} }
  for (const r of log.filter((x) => x.k === 'instance.exit')) {
    if (!r.injected && !(r.code === 0 && r.signal === null)) c.unexpected_exits.push(r)
  }
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.log'))) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue
      let j
      try {
        j = JSON.parse(line)
      } catch {
        continue
      }
      if (j.msg === 'worker died: restarting it') c.worker_deaths++
      if (j.level >= 50) c.error_logs[j.msg] = (c.error_logs[j.msg] ?? 0) + 1
    }
  }
  c.unexpected_worker_deaths = Math.max(0, c.worker_deaths - c.injected_worker_kills)
  // The harness's own client processes dying (client hosts, Python processes): their clients' losses are the harness's.
  c.client_process_exits = log.filter((r) => r.k === 'client-host.exit' || r.k === 'python.exit')
  report.guarantees.crashes = c

  // --- soak figures: memory per instance, leaks at the end ---
  const mem = log.filter((r) => r.k === 'mem')
  const soak = { samples: mem.length, growth_after_10_min: {}, census: log.filter((r) => r.k === 'census'), open_clients: log.find((r) => r.k === 'open.clients') ?? null }
  for (const inst of [...new Set(mem.map((r) => r.inst))]) {
    // Under load (publishing), summed over the instance's processes; heap_used moves with every
    // GC, so each end is the median of three samples: minutes 10–12, and the last three.
    // A sample that missed a process's report (none within 10 s on a loaded host) is left out.
    const all = mem.filter((r) => r.inst === inst && r.label === 'periodic')
    const procs = Math.max(...all.map((r) => r.procs.length))
    const series = all
      .filter((r) => r.procs.length === procs)
      .map((r) => ({ t: r.t, heap: r.procs.reduce((s, p) => s + p.heap_used, 0), rss: r.procs.reduce((s, p) => s + p.rss, 0), n: r.procs.length }))
    const median = (list) => {
      if (list.length === 0) return undefined
      const pick = (k) => [...list].map((x) => x[k]).sort((x, y) => x - y)[Math.floor(list.length / 2)]
      return { heap: pick('heap'), rss: pick('rss') }
    }
    const firstAfter10 = series.findIndex((x) => x.t >= 10 * 60000)
    if (firstAfter10 < 0 || series.length - firstAfter10 < 6) continue
    const base = median(series.slice(firstAfter10, firstAfter10 + 3))
    const last = median(series.slice(-3))
    // heap_used swings with every GC: its floor (the lowest sample) over minutes 10–20 against the last ten samples.
    const floor = (list) => Math.min(...list.map((x) => x.heap))
    const early = series.filter((x) => x.t >= 10 * 60000 && x.t < 20 * 60000)
    const heapFloor = early.length > 0 && series.length >= firstAfter10 + 10 ? [floor(early), floor(series.slice(-10))] : null
    soak.growth_after_10_min[inst] = {
      samples: series.length,
      heap_mb: [base.heap, last.heap].map((x) => +(x / 2 ** 20).toFixed(1)),
      heap_pct: +((100 * (last.heap - base.heap)) / base.heap).toFixed(1),
      heap_floor_mb: heapFloor?.map((x) => +(x / 2 ** 20).toFixed(1)) ?? null,
      heap_floor_pct: heapFloor === null ? null : +((100 * (heapFloor[1] - heapFloor[0])) / heapFloor[0]).toFixed(1),
      rss_mb: [base.rss, last.rss].map((x) => +(x / 2 ** 20).toFixed(1)),
      rss_pct: +((100 * (last.rss - base.rss)) / base.rss).toFixed(1),
    }
  }
  report.soak = soak

  // --- verdict ---
  const after = soak.census.filter((x) => x.label === 'after-close').at(-1)
  soak.after_close_wait = log.find((r) => r.k === 'after-close.wait') ?? null
  const leftOver = after === undefined ? null : Object.values(after.instances).flat().reduce((s, w) => ({ connections: s.connections + w.connections, rooms: s.rooms + w.rooms }), { connections: 0, rooms: 0 })
  report.left_after_close = leftOver
  const cells = {
    'history: lost (accepted, never received)': h.lost,
    'history: out of order': h.out_of_order,
    'history: twice under one offset': h.duplicates,
    'history: refused before reaching Redis, yet delivered': h.refused_but_delivered,
    'tracked: lost outside any fault window (accepted, recipient connected)': t.lost,
    // Best effort drops only while Redis is away or a path is half-open (docs/reliability.md): never outside a fault window, never twice.
    'best effort: lost outside any fault window (Node raw and Python clients)': Object.values(b.by_kind).reduce((n, k) => n + k.lost_outside_fault_window, 0),
    'best effort: same event twice to one subscriber': b.duplicates,
    'answers: refusal without a documented code': a.refused_undocumented_code,
    'crashes: unexpected exits': c.unexpected_exits.length,
    'crashes: unexpected worker deaths': c.unexpected_worker_deaths,
  }
  if (leftOver !== null) {
    cells['leaks: connections after every client closed'] = leftOver.connections
    cells['leaks: rooms after every client closed'] = leftOver.rooms
    // An instance that did not answer its census cannot be said to hold nothing.
    cells['leaks: instances that did not answer the census after the close'] = Object.values(after.instances).filter((x) => x.unreachable === true).length
  }
  report.cells = cells
  report.ok = Object.values(cells).every((v) => v === 0)
  writeFileSync(join(dir, 'report.json'), JSON.stringify(report, null, 1))

  const rows = [
    ['history channels', `${h.clients} client subscriptions, ${h.owed} owed, ${h.received} received`],
    ['  lost (goal 0)', h.lost],
    ['  lost after recovered:false (reported to the client)', h.lost_after_recovered_false],
    ['  out of order (goal 0)', h.out_of_order],
    ['  twice under one offset (goal 0)', h.duplicates],
    ['  refused before reaching Redis, yet delivered (goal 0)', h.refused_but_delivered],
    ['  refused after a timeout or a lost connection, yet delivered (unknown outcome, receipts)', h.refused_after_timeout_delivered],
    ['tracked events', `${t.publications} accepted, ${t.pairs_owed} owed (recipient connected), ${t.delivered} delivered`],
    ['  lost outside any fault window (goal 0)', t.lost],
    ['  lost in a fault window (by path: faults)', `${t.lost_in_fault_window} ${JSON.stringify(t.lost_by_fault)}`],
    ['  duplicates (allowed)', t.duplicate_receipts],
    ['  not owed: recipient offline at publish', `${t.not_owed_recipient_offline} (delivered anyway: ${t.not_owed_delivered_anyway})`],
    ['best effort', `${b.owed} owed, ${b.received} received, ${b.lost} lost ${JSON.stringify(b.lost_by_fault)}, ${b.duplicates} twice`],
    ...Object.entries(b.by_kind).map(([k, v]) => [`  ${k === 'python' ? 'Python clients (python3-websockets)' : 'Node raw clients'}`, `${v.clients} clients, ${v.owed} owed, ${v.received} received, ${v.lost} lost (${v.lost_outside_fault_window} outside any fault window), ${v.duplicates} twice`]),
    ['answers', `${a.total} publications: ${a.accepted} accepted, ${a.refused} refused ${JSON.stringify(a.by_code)}, ${a.no_answer} unanswered ${JSON.stringify(a.no_answer_by_code)}`],
    ['  refusal without a documented code (goal 0)', a.refused_undocumented_code],
    ['crashes', `${c.injected_kills} kills + ${c.injected_worker_kills} worker kills injected`],
    ['  unexpected exits (goal 0)', c.unexpected_exits.length],
    ['  unexpected worker deaths (goal 0)', c.unexpected_worker_deaths],
    ['  error-level log lines', JSON.stringify(c.error_logs)],
    ['  client processes (harness side) that exited early', c.client_process_exits.length === 0 ? 0 : JSON.stringify(c.client_process_exits)],
    ['soak: growth after 10 min', JSON.stringify(soak.growth_after_10_min)],
    ['leaks after every client closed', JSON.stringify(leftOver)],
  ]
  console.log(`\nchaos run ${dir}: ${run.minutes} min, seed ${run.seed}, ${run.clients} clients, faults ${run.faults}, load at start ${run.load}`)
  console.log('| guarantee | figure |\n| --- | --- |')
  for (const [k, v] of rows) console.log(`| ${k} | ${v} |`)
  console.log(`\nreport: ${join(dir, 'report.json')} — ${report.ok ? 'every goal met' : 'NOT every goal met'}`)
  return report
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2]
  if (!dir) {
    console.error('usage: node bench/chaos/check.mjs <run directory>')
    process.exit(2)
  }
  const r = await checkRun(dir)
  process.exit(r.ok ? 0 : 1)
}
