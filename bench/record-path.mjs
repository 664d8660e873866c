// The Node CPU of the durable record's path (issue 20), sockets left out: the real Delivery,
// DeliveryTracker, LocalDelivery and RedisPending (dist/) against a redis-server this script
// starts on a free port, --subs fake connections each with an identity, one tracked event per
// turn delivered to all of them (LocalDelivery.deliver, as a publication reaches its room), and
// the acks as the bench's clients send them:
//   one-ack: every connection acknowledges each event in the turn after it arrived;
//   batched: the connections in --per slices, one slice per turn sending one ack frame naming
//            the --per events it got since its last (bench/loadgen's `roomcast-ack-batch-id`:
//            a client's acks of 20 ms leave together; at ~120 events/s that is 2–3 ids).
// Every turn ends with a Redis round trip (the store's flush and its answer counted in the turn).
// Kinds, rounds alternating, a warm-up round of each first:
//   memory   delivery.durable: off (the tracker alone: in-memory tracking)
//   durable  delivery.durable: auto on one Redis (RedisPending)
//   durable-before, memory-before  the same from another build (--before <checkout>, built)
// Reported: process.cpuUsage() µs per tracked delivery (its send, its record, its ack), median
// and range over --rounds, durable ÷ memory per round, and with --before after ÷ before.
//   node --expose-gc bench/record-path.mjs [--before <checkout>] [--also name=<checkout>,…] [--subs 1000] [--events 2000] [--per 3] [--rounds 5] [--only durable] [--pattern batched]
// --only <kind> runs that kind alone (for a profile: node --cpu-prof bench/record-path.mjs --only durable).
// With --expose-gc each run starts after a full collection.
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'

const { values } = parseArgs({
  options: {
    before: { type: 'string' },
    also: { type: 'string' },
    subs: { type: 'string', default: '1000' },
    events: { type: 'string', default: '2000' },
    per: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '5' },
    only: { type: 'string' },
    pattern: { type: 'string' },
  },
})
const SUBS = Number(values.subs)
const EVENTS = Number(values.events)
const PER = Number(values.per)
const ROUNDS = Number(values.rounds)
const here = resolve(new URL('..', import.meta.url).pathname)

async function build(root) {
  const mod = (p) => import(pathToFileURL(join(root, 'dist', 'src', ...p.split('/'))).href)
  const [{ Delivery }, { RedisPending }, { LocalDelivery }, { textFrame }, { DeliverySettingsSchema }, { redisNames }] = await Promise.all([
    mod('delivery/delivery.js'),
    mod('broker/redis-pending.js'),
    mod('server/local-delivery.js'),
    mod('server/frame.js'),
    mod('delivery/delivery-settings.js'),
    mod('broker/redis-channels.js'),
  ])
  return { Delivery, RedisPending, LocalDelivery, textFrame, DeliverySettingsSchema, redisNames }
}

const kinds = {}
const afterBuild = await build(here)
kinds.memory = { lib: afterBuild, durable: 'off' }
kinds.durable = { lib: afterBuild, durable: 'auto' }
if (values.before !== undefined) {
  const beforeBuild = await build(resolve(values.before))
  kinds['memory-before'] = { lib: beforeBuild, durable: 'off' }
  kinds['durable-before'] = { lib: beforeBuild, durable: 'auto' }
}
// --also name=checkout,…: more builds' durable kind side by side (e.g. the steps of a change).
for (const pair of (values.also ?? '').split(',').filter(Boolean)) {
  const [name, root] = pair.split('=')
  kinds[`durable-${name}`] = { lib: await build(resolve(root)), durable: 'auto' }
}
if (values.only !== undefined) for (const k of Object.keys(kinds)) if (k !== values.only) delete kinds[k]
const patterns = values.pattern !== undefined ? [values.pattern] : ['one-ack', 'batched']

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
await redis.ping()

const payload = { seq: 0, pad: 'x'.repeat(80) }
const codec = { encodeEvent: (pub) => JSON.stringify({ id: pub.id, type: 'event', channel: pub.channel, event: pub.event, data: pub.data, timestamp: pub.timestamp }) }
const stats = { broadcasts: 0, deliveries: 0, countOut() {} }
const held = { holders: () => undefined, pass: () => true }
const observers = { size: 0, observes: () => false, matching: () => [] }
const turn = () => new Promise((done) => setImmediate(done))

let serial = 0
async function run(kind, pattern) {
  const { lib, durable } = kinds[kind]
  // No garbage of the kind before carried into this one's figure (node --expose-gc).
  globalThis.gc?.()
  const names = lib.redisNames(`rp${serial++}:`, 'svc')
  const store = new lib.RedisPending({ connection: () => redis, names: () => names, leaseMs: 6000, sharded: false, publishCommand: 'publish' })
  const settings = lib.DeliverySettingsSchema.parse({ tracked: ['aggregation.*'], max_pending: 200_000, durable })
  const delivery = new lib.Delivery(settings, ['aggregation.bench'])
  delivery.join('self', { connected: false, send() {} }, store)
  const targets = Array.from({ length: SUBS }, (_, i) => ({ id: `conn-${i}`, sent: 0, sendFramed: () => true, unacked: [] }))
  const members = new Set(targets)
  const local = new lib.LocalDelivery({ codec, held, delivery, stats, members: () => members, observers, observer: () => null })
  for (const [i, t] of targets.entries()) delivery.attach(t, `bench-${i}`)
  // The adoptions' reads (durable) answered before the measured turns.
  for (let i = 0; i < 5; i++) {
    await turn()
    await redis.ping()
  }
  const slices = pattern === 'batched' ? PER : 1
  const cpu = process.cpuUsage()
  for (let e = 0; e < EVENTS; e++) {
    const id = `ev-${kind}-${e}`
    local.deliver({ id, channel: 'bench', event: 'aggregation.bench', data: payload, timestamp: '2026-12-07T00:00:00.000Z' }, [])
    for (const t of targets) t.unacked.push(id)
    await turn()
    // One slice of the connections sends its ack frame: the ids it got since its last.
    const slice = e % slices
    for (let i = slice; i < SUBS; i += slices) {
      const t = targets[i]
      for (const acked of t.unacked) delivery.ack(t, acked)
      t.unacked = []
    }
    await redis.ping()
  }
  for (const t of targets) {
    for (const acked of t.unacked) delivery.ack(t, acked)
    t.unacked = []
  }
  await turn()
  await redis.ping()
  const used = process.cpuUsage(cpu)
  const s = delivery.stats()
  if (s.tracked !== EVENTS * SUBS || s.acked !== EVENTS * SUBS || s.pending !== 0) throw new Error(`${kind}: tracked ${s.tracked}, acked ${s.acked}, pending ${s.pending}`)
  if (store.lostWrites > 0) throw new Error(`${kind}: ${store.lostWrites} writes lost`)
  for (const t of targets) delivery.detach(t)
  delivery.close()
  await store.close()
  await redis.flushall()
  return (used.user + used.system) / (EVENTS * SUBS)
}

const results = {}
const load0 = loadavg()[0]
const started = new Date().toISOString()
for (const pattern of patterns) for (const kind of Object.keys(kinds)) await run(kind, pattern)
for (let r = 0; r < ROUNDS; r++)
  for (const pattern of patterns)
    for (const kind of Object.keys(kinds)) {
      const us = await run(kind, pattern)
      ;(results[`${pattern} ${kind}`] ??= []).push(us)
      console.log(`round ${r + 1} ${pattern} ${kind}: ${us.toFixed(3)} µs/tracked delivery`)
    }
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const cell = (xs) => `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`
const ratio = (a, b) => (results[a] && results[b] ? cell(results[a].map((x, i) => x / results[b][i])) + '×' : '–')
console.log(`\n${SUBS} connections, ${EVENTS} events, --per ${PER}, ${ROUNDS} rounds, ${started} – ${new Date().toISOString()}, load average ${load0.toFixed(2)}–${loadavg()[0].toFixed(2)}\n`)
const ks = Object.keys(kinds)
console.log(`| pattern | ${ks.map((k) => `${k} µs`).join(' | ')} | durable ÷ memory |${kinds['durable-before'] ? ' durable-before ÷ memory-before | durable ÷ durable-before |' : ''}`)
console.log(`| --- |${ks.map(() => ' --- |').join('')} --- |${kinds['durable-before'] ? ' --- | --- |' : ''}`)
for (const p of patterns) {
  const cells = ks.map((k) => (results[`${p} ${k}`] ? cell(results[`${p} ${k}`]) : '–'))
  let line = `| ${p} | ${cells.join(' | ')} | ${ratio(`${p} durable`, `${p} memory`)} |`
  if (kinds['durable-before']) line += ` ${ratio(`${p} durable-before`, `${p} memory-before`)} | ${ratio(`${p} durable`, `${p} durable-before`)} |`
  console.log(line)
}
// Each durable kind against durable-before, paired per round (the rounds alternate kinds: the host's drift cancels).
if (kinds['durable-before']) {
  const others = ks.filter((k) => k.startsWith('durable') && k !== 'durable-before')
  console.log(`\n| pattern | ${others.map((k) => `${k} ÷ durable-before`).join(' | ')} |`)
  console.log(`| --- |${others.map(() => ' --- |').join('')}`)
  for (const p of patterns) console.log(`| ${p} | ${others.map((k) => ratio(`${p} ${k}`, `${p} durable-before`)).join(' | ')} |`)
}
redis.disconnect()
proc.kill()
