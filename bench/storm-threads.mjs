#!/usr/bin/env node
// Where a storm's server CPU goes, per process and per thread (docs/performance.md, "Workers: one
// vs two"): one bench storm (bench/lib/runner.js, the server on core 0 and the load generator on
// core 1, as bench/run.js) against each kind in turn, reading every thread of the service's
// processes at the window's edges: CPU (schedstat) and voluntary / involuntary context switches,
// per connection of the storm. Threads are grouped by name: `main` (the event loop) and V8's and
// libuv's helper threads.
//
//   node bench/storm-threads.mjs [--kinds roomcast,roomcast-w2] [--storm 10000] [--warm 10000] [--rounds 2]
import { readdirSync, readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { parseArgs } from 'node:util'
import { runOne } from './lib/runner.js'
import { hasTaskset, processTree } from './lib/servers.js'

const { values } = parseArgs({ options: { kinds: { type: 'string', default: 'roomcast,roomcast-w2' }, storm: { type: 'string', default: '10000' }, warm: { type: 'string', default: '10000' }, rounds: { type: 'string', default: '2' } } })
const n = Number(values.storm)
const pinned = hasTaskset && availableParallelism() >= 2
const cores = pinned ? { server: 0, loadgen: 1 } : { server: null, loadgen: null }

/** Every thread of the service's processes: key `<role>/<thread name>/<tid>` → CPU ns and switches. */
function threads(server) {
  const out = {}
  for (const pid of processTree(server.pids)) {
    const role = server.pids.includes(pid) ? (server.workers > 1 ? 'primary' : 'server') : `worker ${pid}`
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const name = tid === String(pid) ? 'main' : readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim()
        const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0])
        const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8')
        const count = (field) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0)
        out[`${role}/${name}/${tid}`] = { ns, v: count('voluntary_ctxt_switches'), nv: count('nonvoluntary_ctxt_switches') }
      } catch {
        // the thread ended meanwhile
      }
    }
  }
  return out
}

console.log(`storm-threads: ${values.kinds} × ${values.rounds}, storm ${n}, warm-up ${values.warm}; ${pinned ? 'server on core 0, load generator on core 1' : 'not pinned'}`)
for (let round = 1; round <= Number(values.rounds); round++) {
  for (const kind of values.kinds.split(',')) {
    const at = {}
    const cfg = { connections: n, warmConnections: Number(values.warm), concurrency: 500, handshakeTimeoutMs: 15000, warmupMs: 0, measureMs: 0 }
    const result = await runOne(kind, 'storm', cfg, cores, [], { onMark: (label, edge, server) => label === 'storm' && (at[edge] = threads(server)) })
    const groups = {}
    let total = 0
    for (const [key, b] of Object.entries(at.end ?? {})) {
      const a = at.start?.[key] ?? { ns: 0, v: 0, nv: 0 }
      const [role, name] = key.split('/')
      const g = (groups[`${role} ${name === 'main' ? 'main' : 'helpers'}`] ??= { us: 0, v: 0, nv: 0 })
      g.us += (b.ns - a.ns) / 1000 / n
      g.v += (b.v - a.v) / n
      g.nv += (b.nv - a.nv) / n
      total += (b.ns - a.ns) / 1000 / n
    }
    const settled = result.warmSettle === undefined ? '' : `, warm-up settled in ${result.warmSettle.waitedMs} ms`
    console.log(`#${round} ${kind}: ${result.connections} connections in ${result.connectMs} ms, ${result.errors} errors${settled}; ${total.toFixed(1)} µs CPU per connection`)
    for (const [g, x] of Object.entries(groups)) console.log(`    ${g.padEnd(24)} ${x.us.toFixed(1).padStart(6)} µs  voluntary ${x.v.toFixed(3)}  involuntary ${x.nv.toFixed(3)} switches per connection`)
  }
}
