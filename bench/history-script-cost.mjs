// The Redis CPU of the history scripts, side by side in one run: as shipped (dist/: a meta's
// writer checked with INFO replication at most every CHECK_MS), the same scripts checking on
// every call (what they did before), and never checking (the floor).
// One redis-server started here; rounds alternate the variants; Redis's own CPU (utime+stime of
// its process) per script call is the figure, not the client's rate.
//   node bench/history-script-cost.mjs [--calls 20000] [--rounds 5]
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import { APPEND_AND_PUBLISH, CHECK_MS, READ_STREAM } from '../dist/src/broker/redis-scripts.js'

const { values } = parseArgs({ options: { calls: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '5' } } })
const CALLS = Number(values.calls)
const ROUNDS = Number(values.rounds)
const TICK_US = 1e6 / 100 // USER_HZ

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })

const due = `>= ${CHECK_MS} then`
/** The script with its writer check's condition replaced. */
const checking = (script, condition) => {
  if (!script.includes(due)) throw new Error('the scripts changed: update this bench')
  return script.replace(/if not meta\[1\] or .* then/, `if ${condition} then`)
}

const cpuUs = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(f[11]) + Number(f[12])) * TICK_US
}

const port = await freePort()
const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] })
await new Promise((resolve) => proc.stdout.on('data', (d) => String(d).includes('Ready to accept') && resolve()))
const redis = new Redis({ port, enableAutoPipelining: true })
const variants = {
  [`every ${CHECK_MS} ms`]: { append: APPEND_AND_PUBLISH, read: READ_STREAM },
  'every call': { append: checking(APPEND_AND_PUBLISH, 'true'), read: checking(READ_STREAM, 'true') },
  never: { append: checking(APPEND_AND_PUBLISH, 'not meta[1]'), read: checking(READ_STREAM, 'not meta[1]') },
}
const entry = JSON.stringify({ id: 'x', channel: 'workflow:w1', event: 'workflow.started', data: { workflow_id: 'w1' }, timestamp: 'now' })
const results = Object.fromEntries(Object.keys(variants).map((k) => [k, { append: [], read: [] }]))

async function run(script, keysFor, argsFor) {
  const before = cpuUs(proc.pid)
  const batch = 500
  for (let i = 0; i < CALLS; i += batch) {
    await Promise.all(Array.from({ length: batch }, (_, j) => redis.eval(script, 2, ...keysFor(i + j), ...argsFor(i + j))))
  }
  return (cpuUs(proc.pid) - before) / CALLS
}

for (let r = 0; r < ROUNDS; r++) {
  for (const [name, v] of Object.entries(variants)) {
    const keys = (i) => [`m:${name}:${i % 100}`, `s:${name}:${i % 100}`]
    results[name].append.push(await run(v.append, keys, () => [entry, 1000, 60000, 60000, 'e1', 'ch', '{"v":1', 'publish']))
    results[name].read.push(await run(v.read, keys, () => [-1, 100, 60000, 'e1']))
  }
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]
console.log(`redis-server CPU µs per script call, median of ${ROUNDS} rounds of ${CALLS} (load average ${loadavg().map((l) => l.toFixed(1)).join(' ')})`)
const base = results.never
for (const [name, r] of Object.entries(results)) {
  console.log(`${`check ${name}`.padEnd(18)} append ${median(r.append).toFixed(2)} µs (×${(median(r.append) / median(base.append)).toFixed(2)})  read ${median(r.read).toFixed(2)} µs (×${(median(r.read) / median(base.read)).toFixed(2)})`)
}
redis.disconnect()
proc.kill()
