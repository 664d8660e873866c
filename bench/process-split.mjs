#!/usr/bin/env node
// Where a fan-out's server CPU goes, process by process and thread by thread, measured by `perf stat`
// (task-clock: exact, where /proc's ticks are 10 ms): a roomcast service of ROOT's build (every
// process pinned to core 0) with N subscribers on one channel; one publisher publishes RATE per
// second (0: a closed loop, 8 publications in flight, the next one sent when one reached all N)
// for SECS after 3 s of the same traffic. Prints server CPU per delivery, context switches per
// publication, and the split: the workers' (or the one process's) main threads, the primary's
// main thread per publication, and every helper thread (GC, compiler, libuv) per delivery.
// Needs `perf` (linux-tools) allowed to count the service's processes. Run the generator on the
// other core:
//   taskset -c 1 node bench/process-split.mjs ROOT WORKERS N RATE [SECS]
// e.g. node bench/process-split.mjs . 2 1000 20 8. RECORD=FILE: `perf record -g` into FILE instead of
// counting; SRV_NODE_OPTIONS: node options for the service (--perf-basic-prof names JS frames).
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { readFileSync, readdirSync } from 'node:fs'
import { resolve } from 'node:path'
import WebSocket from 'ws'

/** A port nothing listens on now (the kernel's pick; outgoing connections take ports from the ephemeral range too). */
const freePort = () => new Promise((resolve) => { const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)) }) })
const [root, workers, n, rate, secs] = [resolve(process.argv[2] ?? '.'), process.argv[3] ?? '2', Number(process.argv[4] ?? 1000), Number(process.argv[5] ?? 20), Number(process.argv[6] ?? 8)]
const SETTINGS = new URL('settings/roomcast.yaml', import.meta.url).pathname
const port = await freePort()
const child = spawn('taskset', ['-c', '0', process.execPath, `${root}/bin/roomcast.js`, 'serve', 'patterns', '--settings', SETTINGS, '--port', String(port), '--workers', workers], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NODE_OPTIONS: process.env.SRV_NODE_OPTIONS ?? '' } })
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const tree = (pid) => { const out = [pid]; for (const t of readdirSync(`/proc/${pid}/task`)) { let c = ''; try { c = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8') } catch { /* the thread ended */ } for (const k of c.trim().split(/\s+/).filter(Boolean)) out.push(...tree(Number(k))) } return out }
for (let i = 0; i < 100; i++) { try { await globalThis.fetch(`http://127.0.0.1:${port}/health`); break } catch { await sleep(200) } }
await sleep(2000)
let got = 0
const done = new Map()
const socks = []
for (let i = 0; i < n; i++) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`)
  await new Promise((r) => ws.once('message', r))
  ws.send(`{"type":"request","event":"subscribe","data":{"channel":"patterns:bench"},"correlation_id":"s${i}"}`)
  await new Promise((r) => ws.once('message', r))
  ws.on('message', (m) => { got++; if (rate === 0) { const k = /"seq":(\d+)/.exec(m.toString()); if (k) { const q = Number(k[1]); const c = (done.get(q) ?? 0) + 1; if (c === n) { done.delete(q); pubNext() } else done.set(q, c) } } })
  socks.push(ws)
}
const pubws = new WebSocket(`ws://127.0.0.1:${port}/ws`)
await new Promise((r) => pubws.once('message', r))
const pub = (i) => pubws.send(`{"type":"request","event":"publish","data":{"channel":"patterns:bench","event":"aggregation.completed","data":{"seq":${i},"pad":"${'x'.repeat(100)}"}}}`)
let i = 0
const pubNext = () => pub(i++)
const run = (ms) => rate === 0 ? new Promise((resolve) => { if (i === 0) for (let k = 0; k < 8; k++) pub(i++); setTimeout(resolve, ms) }) : new Promise((resolve) => { const t0 = Date.now(); const timer = setInterval(() => { const due = Math.floor((Date.now() - t0) * rate / 1000) - (i - base); for (let k = 0; k < due; k++) pub(i++); if (Date.now() - t0 > ms) { clearInterval(timer); resolve() } }, 2) })
let base = 0
await run(3000)
await sleep(500)
const pids = tree(child.pid).filter((p) => { try { return readFileSync(`/proc/${p}/comm`, 'utf8').startsWith('node') } catch { return false } })
base = i; const got0 = got
const perf = process.env.RECORD ? spawn('perf', ['record', '-F', '4000', '-g', '-o', process.env.RECORD, '-p', pids.join(','), '--', 'sleep', String(secs)], { stdio: ['ignore', 'ignore', 'pipe'] }) : spawn('perf', ['stat', '-x', ',', '-e', 'task-clock,context-switches', '--per-thread', '-p', pids.join(','), '--', 'sleep', String(secs)], { stdio: ['ignore', 'ignore', 'pipe'] })
let err = ''; perf.stderr.on('data', (d) => (err += d))
await run(secs * 1000)
await new Promise((r) => perf.on('exit', r))
await sleep(300)
const pubs = i - base, dels = got - got0
const rows = err.trim().split('\n').map((l) => l.split(',')).filter((r) => r.length > 3)
let clock = 0, csw = 0
for (const r of rows) { const v = Number(r[1]); if (!Number.isFinite(v)) continue; if (r[3].startsWith('task-clock')) clock += v; if (r[3].startsWith('context-switches')) csw += v }
const per = {}
for (const r of rows) { const tid = r[0]; if (r[3].startsWith('task-clock')) per[tid] = Number(r[1]) }
const tidOf = (k) => Number(k.split('-').pop())
let prim = 0, work = 0, help = 0
for (const [k, v] of Object.entries(per)) { if (!Number.isFinite(v)) continue; const t = tidOf(k); if (t === pids[0] && workers !== '1') prim += v; else if (pids.includes(t)) work += v; else help += v }
const split = `main thread(s) ${(work * 1000 / dels).toFixed(2)} µs/delivery, primary ${(prim * 1000 / pubs).toFixed(0)} µs/publication, helper threads ${(help * 1000 / dels).toFixed(2)} µs/delivery`
console.log(`${root.split('/').pop()} w${workers} n=${n} rate=${rate}: pubs ${pubs}, deliveries ${dels}, server CPU ${(clock).toFixed(0)} ms = ${(clock * 1000 / dels).toFixed(2)} µs/delivery, csw/pub ${(csw / pubs).toFixed(1)} | ${workers === '1' ? split.replace(/primary [^,]*, /, '') : split}`)
for (const s of socks) s.terminate()
pubws.terminate()
child.kill('SIGTERM')
await sleep(500)
process.exit(0)
