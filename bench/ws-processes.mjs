#!/usr/bin/env node
// A control for bench/process-split.mjs: the `ws` reference server (bench/servers/ws-pubsub.js
// --coalesce) as ONE process with N subscribers against P independent processes with N/P each,
// every process on core 0, at the same fixed RATE of publications (each sent to every process):
// what more processes on one core cost with no IPC at all. perf stat's task-clock over SECS.
//   taskset -c 1 node bench/ws-processes.mjs P N RATE [SECS]
// e.g. node bench/ws-processes.mjs 2 1000 20 8
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import WebSocket from 'ws'

/** A port nothing listens on now (the kernel's pick; outgoing connections take ports from the ephemeral range too). */
const freePort = () => new Promise((resolve) => { const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)) }) })
const [procs, n, rate, secs] = [Number(process.argv[2] ?? 2), Number(process.argv[3] ?? 1000), Number(process.argv[4] ?? 20), Number(process.argv[5] ?? 8)]
const SERVER = new URL('servers/ws-pubsub.js', import.meta.url).pathname
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const servers = []
for (let p = 0; p < procs; p++) {
  const port = await freePort()
  const child = spawn('taskset', ['-c', '0', process.execPath, SERVER, '--coalesce', '--port', String(port)], { stdio: ['ignore', 'ignore', 'inherit'] })
  servers.push({ port, child })
}
await sleep(1500)
let got = 0
const socks = []
const pubs = []
for (const s of servers) {
  for (let i = 0; i < n / procs; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/`)
    await new Promise((r) => ws.once('open', r))
    ws.send('{"op":"sub","ch":"bench"}')
    await new Promise((r) => ws.once('message', r))
    ws.on('message', () => got++)
    socks.push(ws)
  }
  const p = new WebSocket(`ws://127.0.0.1:${s.port}/`)
  await new Promise((r) => p.once('open', r))
  pubs.push(p)
}
let i = 0, base = 0
const pub = (k) => { for (const p of pubs) p.send(`{"op":"pub","ch":"bench","d":{"seq":${k},"pad":"${'x'.repeat(100)}"}}`) }
const run = (ms) => new Promise((resolve) => { const t0 = Date.now(); const timer = setInterval(() => { const due = Math.floor((Date.now() - t0) * rate / 1000) - (i - base); for (let k = 0; k < due; k++) pub(i++); if (Date.now() - t0 > ms) { clearInterval(timer); resolve() } }, 2) })
await run(3000)
await sleep(500)
base = i; const got0 = got
const pids = servers.map((s) => s.child.pid)
const perf = spawn('perf', ['stat', '-x', ',', '-e', 'task-clock,context-switches', '-p', pids.join(','), '--', 'sleep', String(secs)], { stdio: ['ignore', 'ignore', 'pipe'] })
let err = ''; perf.stderr.on('data', (d) => (err += d))
await run(secs * 1000)
await new Promise((r) => perf.on('exit', r))
await sleep(300)
const rows = err.trim().split('\n').map((l) => l.split(','))
const clock = Number(rows.find((r) => r[2]?.startsWith('task-clock'))?.[0])
const csw = Number(rows.find((r) => r[2]?.startsWith('context-switches'))?.[0])
const dels = got - got0
console.log(`ws-coalesced ×${procs} process(es), ${n} subscribers, ${rate}/s: deliveries ${dels}, CPU ${clock.toFixed(0)} ms = ${(clock * 1000 / dels).toFixed(2)} µs/delivery, csw ${csw}`)
for (const s of socks) s.terminate()
for (const p of pubs) p.terminate()
for (const s of servers) s.child.kill()
await sleep(300)
process.exit(0)
