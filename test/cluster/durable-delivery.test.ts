import { randomUUID } from 'node:crypto'
import { EventEmitter, once } from 'node:events'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { CliProcess, PROCESS_TEST_TIMEOUT, settingsWriter } from '../helpers/cli.js'
import { until } from '../helpers/cluster.js'
import { TestRedis } from '../helpers/redis.js'

/**
 * Issue 20: tracked deliveries outlive the instance that accepted them. Real `roomcast serve
 * context` processes on one Redis; 50 agents (flat dialect, their private `agents/{id}`), 20
 * tracked `task.created` each, 1,000 in all, published over HTTP on the instance that survives.
 */
const AGENTS = 50
const PER_AGENT = 20
/** Safety bound of the waits below: far above what they take (the lease runs out 6 s after the kill). */
const SAFETY_MS = 60_000

/** An agent: acks every tracked event at once and counts what it received, by id. */
class Agent extends EventEmitter {
  readonly seen = new Map<string, number>()
  ws: WebSocket | null = null

  /** `acks` false: an agent that never acknowledges (its events stay pending). */
  constructor(
    readonly id: string,
    readonly acks = true,
  ) {
    super()
  }

  async connect(port: number): Promise<void> {
    const ws = (this.ws = new WebSocket(`ws://127.0.0.1:${port}/?agent_id=${this.id}`))
    ws.on('error', () => {})
    ws.on('message', (raw: Buffer) => {
      const f = JSON.parse(raw.toString()) as { type?: string; event?: string; id?: string }
      if (f.type === 'connected') this.emit('connected')
      if (f.type !== 'event' || f.event !== 'task.created' || typeof f.id !== 'string') return
      this.seen.set(f.id, (this.seen.get(f.id) ?? 0) + 1)
      if (this.acks) ws.send(JSON.stringify({ type: 'ack', message_id: f.id }))
      this.emit('event')
    })
    await once(this, 'connected')
  }

  /** Resolves once the connection is gone (its instance died). */
  closed(): Promise<void> {
    const ws = this.ws
    if (ws === null || ws.readyState === WebSocket.CLOSED) return Promise.resolve()
    return once(ws, 'close').then(() => {})
  }

  close(): void {
    this.ws?.terminate()
  }
}

const procs: CliProcess[] = []
const agents: Agent[] = []
const redises: TestRedis[] = []
afterEach(async () => {
  for (const a of agents.splice(0)) a.close()
  await Promise.all(procs.splice(0).map((p) => p.stop()))
  await Promise.all(redises.splice(0).map((r) => r.kill()))
})

async function startPair(redis: TestRedis, ackTimeout: number): Promise<{ a: CliProcess; b: CliProcess; ports: [number, number]; prefix: string }> {
  const { dir, write } = settingsWriter('roomcast-durable-')
  write('context.yaml', `port: 0\nmcp:\n  enabled: false\ndelivery:\n  ack_timeout: ${ackTimeout}\n`)
  const prefix = `durable-${randomUUID().slice(0, 8)}:`
  const env = { ROOMCAST_SETTINGS_DIR: dir, REDIS_URL: redis.url, REDIS_PUBSUB_PREFIX: prefix }
  const a = new CliProcess(['serve', 'context'], env)
  const b = new CliProcess(['serve', 'context'], env)
  procs.push(a, b)
  return { a, b, ports: [await a.port('context'), await b.port('context')], prefix }
}

/** POSTs one task.created per call to `agents/<agent>` on `port`; resolves with the event id. */
async function publish(port: number, agent: string, n: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ channel: `agents/${agent}`, event: 'task.created', data: { task_id: `${agent}-${n}` } }),
  })
  const body = (await res.json()) as { id?: string; error?: string }
  if (res.status !== 200 || typeof body.id !== 'string') throw new Error(`publish answered ${res.status}: ${JSON.stringify(body)}`)
  return body.id
}

/** Publishes `perAgent` events to every agent (round robin), 8 requests at a time, pushing their ids to `ids` as they are accepted. */
async function stream(port: () => number, perAgent: number, ids: string[], accepted: EventEmitter, to: readonly Agent[] = agents): Promise<void> {
  const jobs: [string, number][] = []
  for (let n = 0; n < perAgent; n++) for (const a of to) jobs.push([a.id, n])
  const worker = async () => {
    for (let job = jobs.shift(); job !== undefined; job = jobs.shift()) {
      ids.push(await publish(port(), job[0], job[1]))
      accepted.emit('accepted')
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker))
}

/** Waits until every id in `ids` reached its agent. */
async function allReceived(ids: readonly string[]): Promise<void> {
  const hub = new EventEmitter()
  for (const a of agents) a.on('event', () => hub.emit('event'))
  const received = () => ids.every((id) => agents.some((a) => a.seen.has(id)))
  await until(hub, 'event', received, SAFETY_MS, `${ids.length} events delivered`)
}

/** Pending records in Redis under `prefix`: every event's recipients (one Redis keeps the record per event). */
async function recorded(url: string, prefix: string): Promise<number> {
  const r = new Redis(url)
  try {
    const keys = await r.keys(`${prefix}context:pending-to:*`)
    let n = 0
    for (const k of keys) n += await r.scard(k)
    return n
  } finally {
    r.disconnect()
  }
}

function tally(ids: readonly string[]): { lost: number; duplicates: number } {
  let lost = 0
  let duplicates = 0
  for (const id of ids) {
    const times = agents.reduce((sum, a) => sum + (a.seen.get(id) ?? 0), 0)
    if (times === 0) lost++
    else duplicates += times - 1
  }
  return { lost, duplicates }
}

describe('tracked deliveries outlive their instance (Redis)', () => {
  it(
    'SIGKILL of the instance holding 50 agents mid-stream: they reconnect to the survivor and get every event, original ids, 0 lost',
    async () => {
      const redis = await TestRedis.start()
      redises.push(redis)
      const { a, ports, prefix } = await startPair(redis, 30)
      for (let i = 0; i < AGENTS; i++) agents.push(new Agent(`agent-${i}`))
      await Promise.all(agents.map((ag) => ag.connect(ports[0])))
      // The stream is published on b, delivered by a until a dies, 400 events in.
      const ids: string[] = []
      const accepted = new EventEmitter()
      const streaming = stream(() => ports[1], PER_AGENT, ids, accepted)
      await until(accepted, 'accepted', () => ids.length >= 400, SAFETY_MS, '400 events accepted')
      const gone = agents.map((ag) => ag.closed())
      await a.signal('SIGKILL')
      await Promise.all(gone)
      // What a held unacknowledged at its death, and what was published since: the events that may reach an agent twice.
      const inFlight = await recorded(redis.url, prefix)
      await Promise.all(agents.map((ag) => ag.connect(ports[1])))
      await streaming
      expect(new Set(ids).size).toBe(AGENTS * PER_AGENT)
      await allReceived(ids)
      const { lost, duplicates } = tally(ids)
      console.log(`durable delivery, SIGKILL: ${ids.length} events, in flight at the kill ${inFlight}, duplicates ${duplicates}, lost ${lost}`)
      expect(lost).toBe(0)
      expect(duplicates).toBeLessThanOrEqual(inFlight)
      const stats = (await (await fetch(`http://127.0.0.1:${ports[1]}/stats`)).json()) as { delivery: Record<string, number | string> }
      expect(stats.delivery).toMatchObject({ durable: 'redis', failed: 0 })
      expect(stats.delivery.adopted).toBeGreaterThan(0)
    },
    PROCESS_TEST_TIMEOUT,
  )

  it(
    'Redis killed and restarted mid-stream (append-only file, fsync always): 0 lost, and what was pending before the crash is still adopted afterwards',
    async () => {
      const redis = await TestRedis.start(undefined, { persistent: true })
      redises.push(redis)
      const { a, ports } = await startPair(redis, 30)
      for (let i = 0; i < AGENTS; i++) agents.push(new Agent(`agent-${i}`))
      const sleeper = new Agent('sleeper', false)
      await Promise.all([...agents, sleeper].map((ag) => ag.connect(ports[0])))
      // Five events the sleeper never acknowledges: recorded in Redis before the crash.
      const asleep = await Promise.all([0, 1, 2, 3, 4].map((n) => publish(ports[1], 'sleeper', n)))
      await until(sleeper, 'event', () => sleeper.seen.size === 5, SAFETY_MS, 'the sleeper\'s 5 events')
      // The stream is published on a, where the agents are; Redis dies 400 events in and comes back.
      const ids: string[] = []
      const accepted = new EventEmitter()
      const streaming = stream(() => ports[0], PER_AGENT, ids, accepted)
      await until(accepted, 'accepted', () => ids.length >= 400, SAFETY_MS, '400 events accepted')
      await redis.kill()
      await redis.restart()
      await streaming
      await allReceived(ids)
      const { lost, duplicates } = tally(ids)
      console.log(`durable delivery, Redis restart: ${ids.length} events, duplicates ${duplicates}, lost ${lost}`)
      expect(lost).toBe(0)
      expect(duplicates).toBe(0)
      // The record written before the crash came back from the append-only file: a dies, b adopts it.
      const gone = sleeper.closed()
      await a.signal('SIGKILL')
      await gone
      sleeper.seen.clear()
      await sleeper.connect(ports[1])
      await until(sleeper, 'event', () => sleeper.seen.size === 5, SAFETY_MS, 'the sleeper\'s 5 events again, on b')
      expect([...sleeper.seen.keys()]).toEqual(asleep)
      sleeper.close()
    },
    PROCESS_TEST_TIMEOUT,
  )
})
