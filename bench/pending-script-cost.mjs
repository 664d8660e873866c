// The Redis CPU of the durable record's grouped writes (issue 20), side by side in one run: this
// checkout's RedisPending (dist/) and another build's (--before <checkout>, e.g. main before a
// change), each on the same redis-server with a prefix of its own, rounds alternating. Patterns,
// each over --ids identities, one store call per recipient as the tracker makes them:
//   one-ack: every turn one new event to every identity and the ack of the previous one (a
//            write and a removal per record per turn);
//   batched: every turn --per events to every identity, the next turn their acks together;
//   bursts:  --per events per turn and each ack in a turn of its own.
// The figure is Redis's own CPU (schedstat of its threads) per tracked delivery (its write and
// its removal), not the client's rate; beside it this process's CPU per tracked delivery (the
// store's calls, ioredis, the loop that drives them: compare variants, not absolute figures).
//   node bench/pending-script-cost.mjs --before /path/to/built/checkout [--also name=checkout,…] [--ids 1000] [--turns 200] [--per 4] [--rounds 3]
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import { cpuSecondsFine } from './lib/servers.js'

const { values } = parseArgs({ options: { before: { type: 'string' }, also: { type: 'string' }, ids: { type: 'string', default: '1000' }, turns: { type: 'string', default: '200' }, per: { type: 'string', default: '4' }, rounds: { type: 'string', default: '3' } } })
const IDS = Number(values.ids)
const TURNS = Number(values.turns)
const PER = Number(values.per)
const ROUNDS = Number(values.rounds)
const here = resolve(new URL('..', import.meta.url).pathname)
const load = async (root) => (await import(pathToFileURL(join(root, 'dist', 'src', 'broker', 'redis-pending.js')).href)).RedisPending
const { redisNames } = await import(pathToFileURL(join(here, 'dist', 'src', 'broker', 'redis-channels.js')).href)
const variants = { after: await load(here) }
if (values.before !== undefined) variants.before = await load(resolve(values.before))
// --also name=checkout,…: more builds side by side (e.g. a variant of the change).
for (const pair of (values.also ?? '').split(',').filter(Boolean)) {
  const [name, root] = pair.split('=')
  variants[name] = await load(resolve(root))
}

const freePort = () =>
  new Promise((done) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => done(port))
    })
  })

const port = await freePort()
const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] })
await new Promise((done) => proc.stdout.on('data', (d) => String(d).includes('Ready to accept') && done()))
const redis = new Redis({ port })
const identities = Array.from({ length: IDS }, (_, i) => `agent-${i}`)
const text = JSON.stringify({ type: 'event', channel: 'patterns:bench', event: 'bench', data: { seq: 1, pad: 'x'.repeat(80) } })

let serial = 0
async function run(name, Store, pattern) {
  const names = redisNames(`psc${serial++}:`, 'svc')
  const store = new Store({ connection: () => redis, names: () => names, leaseMs: 6000, sharded: false, publishCommand: 'publish' })
  store.open('self', { keepMs: 60_000, maxPerIdentity: 10_000 })
  const turn = async () => {
    await new Promise((done) => setImmediate(done))
    await redis.ping()
  }
  let order = 0
  const put = (n) => {
    const ids = []
    for (let k = 0; k < n; k++) {
      const id = `e${++order}`
      ids.push(id)
      for (const identity of identities) store.put(identity, { id, event: 'bench', text, attempts: 1, order })
    }
    return ids
  }
  const ack = (ids) => {
    for (const identity of identities) for (const id of ids) store.remove(identity, id)
  }
  await turn()
  const before = cpuSecondsFine(proc.pid)
  const nodeBefore = process.cpuUsage()
  let delivered = 0
  if (pattern === 'one-ack') {
    let last = put(1)
    for (let t = 0; t < TURNS; t++) {
      const next = put(1)
      ack(last)
      last = next
      await turn()
      delivered += IDS
    }
    ack(last)
  } else if (pattern === 'batched') {
    for (let t = 0; t < TURNS / 2; t++) {
      const ids = put(PER)
      await turn()
      ack(ids)
      await turn()
      delivered += IDS * PER
    }
  } else {
    for (let t = 0; t < TURNS / (PER + 1); t++) {
      const ids = put(PER)
      await turn()
      for (const id of ids) {
        ack([id])
        await turn()
      }
      delivered += IDS * PER
    }
  }
  await turn()
  const us = ((cpuSecondsFine(proc.pid) - before) / delivered) * 1e6
  const node = process.cpuUsage(nodeBefore)
  ;(nodeUs[`${pattern} ${name}`] ??= []).push((node.user + node.system) / delivered)
  if (store.lostWrites > 0) throw new Error(`${store.lostWrites} writes lost`)
  store.close()
  await redis.flushall()
  return us
}

const nodeUs = {}
const patterns = ['one-ack', 'batched', 'bursts']
const results = {}
const load0 = loadavg()[0]
for (let r = 0; r < ROUNDS; r++)
  for (const pattern of patterns)
    for (const [name, Store] of Object.entries(variants)) {
      const us = await run(name, Store, pattern)
      ;(results[`${pattern} ${name}`] ??= []).push(us)
      console.log(`round ${r + 1} ${pattern} ${name}: Redis ${us.toFixed(3)} µs/tracked delivery, Node ${nodeUs[`${pattern} ${name}`].at(-1).toFixed(3)}`)
    }
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
console.log(`\n${IDS} identities, ${TURNS} turns, ${PER} events per turn (batched, bursts), ${ROUNDS} rounds, load average ${load0.toFixed(2)}–${loadavg()[0].toFixed(2)}\n`)
console.log('| pattern | ' + Object.keys(variants).map((v) => `${v}: Redis µs/tracked delivery`).join(' | ') + (variants.before ? ' | after ÷ before (per round) |' : ' |'))
console.log('| --- | ' + Object.keys(variants).map(() => '---').join(' | ') + (variants.before ? ' | --- |' : ' |'))
for (const pattern of patterns) {
  const cells = Object.keys(variants).map((v) => `${median(results[`${pattern} ${v}`]).toFixed(2)} (${Math.min(...results[`${pattern} ${v}`]).toFixed(2)}–${Math.max(...results[`${pattern} ${v}`]).toFixed(2)})`)
  const ratios = variants.before ? results[`${pattern} after`].map((a, i) => a / results[`${pattern} before`][i]) : null
  console.log(`| ${pattern} | ${cells.join(' | ')}${ratios ? ` | ${median(ratios).toFixed(2)}× (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})` : ''} |`)
}
console.log('\n| pattern | ' + Object.keys(variants).map((v) => `${v}: Node µs/tracked delivery`).join(' | ') + (variants.before ? ' | after ÷ before (per round) |' : ' |'))
console.log('| --- | ' + Object.keys(variants).map(() => '---').join(' | ') + (variants.before ? ' | --- |' : ' |'))
for (const pattern of patterns) {
  const xs = (v) => nodeUs[`${pattern} ${v}`]
  const cells = Object.keys(variants).map((v) => `${median(xs(v)).toFixed(2)} (${Math.min(...xs(v)).toFixed(2)}–${Math.max(...xs(v)).toFixed(2)})`)
  const ratios = variants.before ? xs('after').map((a, i) => a / xs('before')[i]) : null
  console.log(`| ${pattern} | ${cells.join(' | ')}${ratios ? ` | ${median(ratios).toFixed(2)}× (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})` : ''} |`)
}
redis.disconnect()
proc.kill()
