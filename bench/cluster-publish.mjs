#!/usr/bin/env node
// Redis alone, without roomcast: what the `channels` scenario's publications cost a Redis Cluster
// when they go out as sharded pub/sub (SPUBLISH, what roomcast's cluster transport does) or as
// plain PUBLISH on the same channel names (broadcast by the cluster to every node); and, for
// reference, one Redis (`publish-one`: PUBLISH, pattern subscribers, as roomcast's Redis transport). Started by
// bench/cluster-channels.mjs as a child process with an IPC channel; it reports `mark` messages
// around its measured window (the parent samples each redis-server's CPU there) and a `result`.
//
// Three "instances", as in the roomcast runs: each publishes a third of the publications through
// an ioredis Cluster (auto-pipelining on, as roomcast's connections) and subscribes every room
// bucket channel: sharded, one ioredis Cluster with sharded subscribers (a connection per
// master, as roomcast does); plain, one connection to master i for instance i (SUBSCRIBE); one
// Redis, a connection each with PSUBSCRIBE on every room. The channel names and the message's
// shape are roomcast's (dist/src/broker/redis-channels.js).
import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { Cluster, Redis } from 'ioredis'
import { redisClusterNames, redisNames } from '../dist/src/broker/redis-channels.js'
import { roomChannel } from '../dist/src/broker/cluster-channels.js'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string' }, // host:port,… of the cluster (publish-one: of the one Redis)
    masters: { type: 'string' }, // host:port,… of its masters, m1 first (plain subscribers: instance i on master i)
    mode: { type: 'string', default: 'spublish' }, // spublish | publish | publish-one
    rate: { type: 'string', default: '2000' }, // publications/s over all instances
    channels: { type: 'string', default: '5000' },
    'shared-every': { type: 'string', default: '1000' },
    instances: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1000' },
    measure: { type: 'string', default: '5000' },
    service: { type: 'string', default: 'patterns' },
    prefix: { type: 'string', default: 'roomcast:' },
  },
})

const hostPort = (s) => {
  const [host, port] = s.trim().split(':')
  return { host, port: Number(port) }
}
const nodes = values.nodes.split(',').map(hostPort)
const masters = (values.masters ?? values.nodes).split(',').map(hostPort)
const mode = values.mode
if (!['spublish', 'publish', 'publish-one'].includes(mode)) throw new Error(`--mode spublish|publish|publish-one, not ${mode}`)
const onOne = mode === 'publish-one'
const instances = Number(values.instances)
const nChannels = Number(values.channels)
const sharedEvery = Number(values['shared-every'])
const rate = Number(values.rate)
const names = onOne ? redisNames(values.prefix, values.service) : redisClusterNames(values.prefix, values.service)
// The rooms of the bench's channels scenario (bench/loadgen/client.js: patterns:c<i> and global) on their bucket channels.
const rooms = Array.from({ length: nChannels }, (_, i) => `patterns:c${i}`)
const roomNames = rooms.map((r) => names.channel(roomChannel(r)))
const sharedName = names.channel(roomChannel('global'))
const pad = 'x'.repeat(86)
const origins = Array.from({ length: instances }, () => randomUUID())
/** A publication as roomcast's cluster layer sends it (cluster-messages.ts), about the same bytes. */
const message = (i, seq, room) => JSON.stringify({ v: 1, type: 'publication', origin: origins[i], pub: { id: randomUUID(), channel: room, event: 'aggregation.completed', data: { seq, pad }, timestamp: new Date().toISOString() } })

const clusterOptions = (extra = {}) => ({ enableAutoPipelining: true, redisOptions: { protocol: 3 }, ...extra })
const send = (msg) => new Promise((resolve) => process.send(msg, resolve))

async function main() {
  let received = 0
  const onMessage = () => {
    received++
  }
  // Subscribers: every instance hears every room bucket, as the patterns service's instances do.
  const subscribers = []
  for (let i = 0; i < instances; i++) {
    if (onOne) {
      const r = new Redis({ ...nodes[0], protocol: 3 })
      r.on('pmessage', onMessage)
      await r.psubscribe(names.allRooms)
      subscribers.push(r)
    } else if (mode === 'spublish') {
      const c = new Cluster(nodes, clusterOptions({ shardedSubscribers: true }))
      c.on('smessage', onMessage)
      await Promise.all(names.everyRoom.map((n) => c.ssubscribe(n)))
      subscribers.push(c)
    } else {
      const r = new Redis({ ...masters[i % masters.length], protocol: 3 })
      r.on('message', onMessage)
      await r.subscribe(...names.everyRoom)
      subscribers.push(r)
    }
  }
  const publishers = []
  for (let i = 0; i < instances; i++) {
    const c = onOne ? new Redis({ ...nodes[0], protocol: 3, enableAutoPipelining: true }) : new Cluster(nodes, clusterOptions())
    await c.ping()
    publishers.push(c)
  }

  let seq = 0
  let k = 0
  let acked = 0
  let errors = 0
  const publishOne = () => {
    const s = ++seq
    const shared = s % sharedEvery === 0
    const channel = shared ? sharedName : roomNames[k % nChannels]
    const room = shared ? 'global' : rooms[k++ % nChannels]
    const i = Math.floor(s / instances) % instances
    const p = publishers[i]
    const msg = message(i, s, room)
    const done = mode === 'spublish' ? p.spublish(channel, msg) : p.publish(channel, msg)
    done.then(
      () => acked++,
      () => errors++,
    )
  }
  // Open loop at `rate` publications/s: a 1 ms timer sends what is due.
  const t0 = performance.now()
  let due = 0
  const timer = setInterval(() => {
    const n = Math.floor(((performance.now() - t0) * rate) / 1000) - due
    for (let j = 0; j < n; j++) publishOne()
    due += n
  }, 1)
  await sleep(Number(values.warmup))
  const acked0 = acked
  const received0 = received
  const w0 = performance.now()
  process.send({ type: 'mark', name: 'window:start' })
  await sleep(Number(values.measure))
  process.send({ type: 'mark', name: 'window:end' })
  const wall = performance.now() - w0
  const window = { publishesPerSec: Math.round(((acked - acked0) / wall) * 1000), receivedPerSec: Math.round(((received - received0) / wall) * 1000) }
  clearInterval(timer)
  // Every publication should reach every instance once: wait (bounded) for the rest to arrive.
  const end = performance.now() + 10000
  while ((received < seq * instances || acked + errors < seq) && performance.now() < end) await sleep(20)
  const result = { mode, rate, window, published: seq, publishErrors: errors, expected: seq * instances, received, lost: Math.max(0, seq * instances - received) }
  for (const c of [...publishers, ...subscribers]) c.disconnect()
  await send({ type: 'result', result })
}

main().then(
  () => process.exit(0),
  async (err) => {
    await send({ type: 'error', message: err.stack ?? String(err) })
    process.exit(1)
  },
)
