#!/usr/bin/env node
// The `channels` scenario (thousands of channels, three instances) on one Redis and on a Redis
// Cluster of three masters with a replica each, side by side in one run (issue 21), plus plain
// PUBLISH on the same cluster. What it reports is where Redis spends its CPU per publication
// (every redis-server's CPU time from /proc/<pid>/stat over the measured window), not absolute
// throughput: on a 2-core host every process shares one core. docs/performance.md, "Redis
// Cluster", explains the table and the projection for separate hosts.
//
// Variants, each round in this order, the Redis and the cluster started once for the whole run:
//   one       three roomcast instances (patterns, bench/settings/roomcast.yaml) over one redis-server
//   cluster   the same three over the cluster (REDIS_CLUSTER_NODES: SPUBLISH/SSUBSCRIBE on room buckets)
//   publish-one  Redis alone: bench/cluster-publish.mjs sends the same publications to the one
//             Redis with PUBLISH (roomcast's names, message shape and pattern subscribers), at the
//             rate the cluster run reached (or --script-rate)
//   spublish  the same on the cluster with SPUBLISH (roomcast's bucket channels, sharded subscribers)
//   publish   the same with plain PUBLISH on the same channel names: the cluster broadcasts each
//             one to every node
import { fork } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { availableParallelism, loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import { clusterReport, masterShares } from './lib/cluster-report.js'
import { runOne } from './lib/runner.js'
import { cpuSecondsFine, hasTaskset, ROOT, startRedis, startRedisCluster } from './lib/servers.js'

const USAGE = `Usage: node bench/cluster-channels.mjs [options]   (after npm run build)
  --rounds N        rounds, each running every variant in turn (default 2)
  --variants LIST   one,cluster,publish-one,spublish,publish (default: all five)
  --subs N          subscribers, each on its own channel and on one shared channel (default 3000)
  --window N        publications in flight in the closed loop (default 64)
  --warmup MS       (default 1000)   --measure MS   measured window per run (default 5000)
  --script-rate N   publications/s of the publish-one, spublish and publish variants (default:
                    the rate the cluster run reached in the same round; 2000 without one)
  --no-pin          do not pin Redis and the instances to core 0, the load generator to core 1
  --out FILE        where to write the raw results (default bench/results/cluster-channels-<date>.json)
  --report FILE     print the tables of a saved run and exit`

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '2' },
    variants: { type: 'string', default: 'one,cluster,publish-one,spublish,publish' },
    subs: { type: 'string', default: '3000' },
    window: { type: 'string', default: '64' },
    warmup: { type: 'string', default: '1000' },
    measure: { type: 'string', default: '5000' },
    'script-rate': { type: 'string' },
    'no-pin': { type: 'boolean', default: false },
    report: { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
})
if (values.help) {
  console.log(USAGE)
  process.exit(0)
}
if (values.report !== undefined) {
  const { readFileSync } = await import('node:fs')
  const saved = JSON.parse(readFileSync(values.report, 'utf8'))
  console.log(clusterReport(saved.results, saved.meta))
  process.exit(0)
}
if (!existsSync(join(ROOT, 'dist', 'src', 'cli.js'))) {
  console.error('roomcast is not built: run `npm run build` first')
  process.exit(1)
}
const VARIANTS = ['one', 'cluster', 'publish-one', 'spublish', 'publish']
const variants = values.variants.split(',').map((v) => v.trim())
for (const v of variants) if (!VARIANTS.includes(v)) throw new Error(`unknown variant ${v}; known: ${VARIANTS.join(', ')}`)
const pin = !values['no-pin'] && hasTaskset && availableParallelism() >= 2
const cores = pin ? { server: 0, loadgen: 1 } : { server: null, loadgen: null }
const cfg = { warmupMs: Number(values.warmup), measureMs: Number(values.measure), concurrency: 200, subscribers: Number(values.subs), window: Number(values.window), sharedEvery: 1000, publishers: 'each' }

const started = Date.now()
const load = [loadavg()[0]]
console.log(`cluster-channels: ${variants.join(', ')} × ${values.rounds} rounds, ${cfg.subscribers} subscribers; ${pin ? 'Redis and instances on core 0, load on core 1' : 'not pinned'}; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`)
const onOne = (v) => v === 'one' || v === 'publish-one'
const one = variants.some(onOne) ? await startRedis({ cpu: cores.server }) : null
const cluster = variants.some((v) => !onOne(v)) ? await startRedisCluster({ cpu: cores.server }) : null
const results = []
// One plain connection per redis-server, opened now: the counters are read through them at each window's edges.
const probes = new Map([...(one?.processes ?? []), ...(cluster?.processes ?? [])].map((p) => [p.label, new Redis({ host: '127.0.0.1', port: p.port })]))
try {
  if (cluster !== null) console.log(`cluster: ${cluster.processes.map((p) => `${p.label} :${p.port}${p.role === 'master' ? ` (${p.slots} slots)` : ''}`).join(', ')}`)
  const idle = await idleCpu([...(one?.processes ?? []), ...(cluster?.processes ?? [])], 5000)
  console.log(`idle CPU % of each redis-server over 5 s: ${Object.entries(idle).map(([k, v]) => `${k} ${v}`).join(', ')}`)
  results.push({ variant: 'idle', round: 0, loadavg: loadavg()[0], result: { idlePercent: idle } })
  for (let round = 0; round < Number(values.rounds); round++) {
    let clusterRate = null
    for (const variant of variants) {
      const t0 = Date.now()
      const redis = onOne(variant) ? one : cluster
      // The publications each process handles over the measured window: commands entering it, and
      // what it received over the cluster bus (read from every process at once at each edge).
      const snapshots = {}
      const onMark = (label, edge) => {
        if (label === 'window') snapshots[edge] = Promise.all(redis.processes.map((p) => counters(probes.get(p.label), p.role)))
      }
      let result
      try {
        if (variant === 'one' || variant === 'cluster') {
          result = await runOne(variant === 'one' ? 'roomcast-redis3' : 'roomcast-cluster3', 'channels', cfg, cores, [], { redis, onMark })
          if (variant === 'cluster') clusterRate = result.window.publishesPerSec
        } else {
          const rate = values['script-rate'] === undefined ? (clusterRate ?? 2000) : Number(values['script-rate'])
          result = await runScript(variant, rate, redis, cores.loadgen, onMark)
        }
        const [a, b] = await Promise.all([snapshots.start, snapshots.end])
        result.commandCalls = {}
        result.busReceived = {}
        redis.processes.forEach((p, i) => {
          result.commandCalls[p.label] = Object.fromEntries(Object.keys(b[i].calls).map((k) => [k, b[i].calls[k] - a[i].calls[k]]))
          result.busReceived[p.label] = b[i].bus - a[i].bus
        })
      } catch (err) {
        result = { failed: (err.stack ?? String(err)).slice(0, 800) }
      }
      results.push({ variant, round, loadavg: loadavg()[0], processes: redis.processes.map(({ label, role, port, slots }) => ({ label, role, port, slots })), result })
      load.push(loadavg()[0])
      console.log(`  #${round + 1} ${variant}: ${brief(result)} (${((Date.now() - t0) / 1000).toFixed(1)} s)`)
    }
  }
} finally {
  for (const probe of probes.values()) probe.disconnect()
  await one?.stop()
  await cluster?.stop()
}
const meta = { date: new Date().toISOString(), argv: process.argv.slice(2), pinned: pin, elapsedSeconds: Math.round((Date.now() - started) / 1000), loadavg: { min: Math.min(...load), max: Math.max(...load) }, node: process.version, cpus: availableParallelism() }
console.log(`\n${clusterReport(results, meta)}`)
const file = values.out ?? join(ROOT, 'bench', 'results', `cluster-channels-${meta.date.replace(/[:.]/g, '-')}.json`)
mkdirSync(dirname(file), { recursive: true })
writeFileSync(file, JSON.stringify({ meta, results }, null, 2))
console.log(`raw results: ${file}`)

/** Each process's CPU % of a core over `ms` with nothing to do (cluster bus pings, cron). */
async function idleCpu(processes, ms) {
  const a = processes.map((p) => cpuSecondsFine(p.pid))
  await sleep(ms)
  return Object.fromEntries(processes.map((p, i) => [p.label, Math.round((((cpuSecondsFine(p.pid) ?? 0) - (a[i] ?? 0)) / (ms / 1000)) * 10000) / 100]))
}

/**
 * One process's counters so far: the calls of the publishing commands (INFO commandstats; EVAL: a
 * history script) and the publications it received from other nodes over the cluster bus (CLUSTER
 * INFO: plain PUBLISH is broadcast to every node, SPUBLISH goes to the shard's replicas).
 */
async function counters(probe, role) {
  const stats = await probe.info('commandstats')
  const calls = (cmd) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(stats)?.[1] ?? 0)
  let bus = 0
  if (role !== 'single') {
    const info = await probe.call('cluster', 'info')
    const n = (name) => Number(new RegExp(`cluster_stats_messages_${name}_received:(\\d+)`).exec(info)?.[1] ?? 0)
    bus = n('publish') + n('publishshard')
  }
  return { calls: { publish: calls('publish'), spublish: calls('spublish'), evalsha: calls('evalsha') + calls('eval') }, bus }
}

/** The spublish or publish variant: bench/cluster-publish.mjs on the load core, each redis-server's CPU over its window. */
function runScript(mode, rate, redis, cpu, onMark) {
  const masters = redis.processes.filter((p) => p.role !== 'replica').map((p) => `127.0.0.1:${p.port}`)
  const args = ['--nodes', masters.join(','), '--masters', masters.join(','), '--mode', mode, '--rate', String(rate), '--channels', String(cfg.subscribers), '--warmup', String(cfg.warmupMs), '--measure', String(cfg.measureMs)]
  const script = join(ROOT, 'bench', 'cluster-publish.mjs')
  const child = pin && cpu !== null ? fork(script, args, { execPath: 'taskset', execArgv: ['-c', String(cpu), process.execPath], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }) : fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const sample = () => ({ t: performance.now(), cpu: Object.fromEntries(redis.processes.map((p) => [p.label, cpuSecondsFine(p.pid)])) })
  let start = null
  let window = null
  return new Promise((resolve, reject) => {
    child.on('message', (msg) => {
      if (msg.type === 'mark' && msg.name === 'window:start') {
        start = sample()
        onMark('window', 'start')
      } else if (msg.type === 'mark' && msg.name === 'window:end') {
        const end = sample()
        onMark('window', 'end')
        const seconds = (end.t - start.t) / 1000
        const perProcess = Object.fromEntries(Object.keys(end.cpu).map((k) => [k, Math.round(((end.cpu[k] - start.cpu[k]) / seconds) * 10000) / 100]))
        window = { redisCpu: Math.round(Object.values(perProcess).reduce((a, b) => a + b, 0) * 10) / 10, redisProcessCpu: perProcess }
      } else if (msg.type === 'result') resolve({ ...msg.result, window: { ...msg.result.window, ...window } })
      else if (msg.type === 'error') reject(new Error(`cluster-publish: ${msg.message}`))
    })
    child.once('exit', (code) => reject(new Error(`cluster-publish exited with ${code} without a result`)))
  })
}

function brief(r) {
  if (r.failed !== undefined) return `FAILED ${r.failed}`
  const shares = masterShares(r)
  const split = shares === null ? '' : `, masters' CPU split ${shares.map((s) => s.toFixed(2)).join(' / ')}`
  return `${r.window.publishesPerSec} publications/s, Redis CPU ${r.window.redisCpu}%${split}, lost ${r.lost}${r.outOfOrder === undefined ? '' : `, out of order ${r.outOfOrder}`}`
}
