import { randomUUID } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { BrokerSink } from '../../src/broker/broker.js'
import type { ClusterBroker } from '../../src/broker/cluster-broker.js'
import { CONTROL_CHANNEL, roomChannel } from '../../src/broker/cluster-channels.js'
import type { DeliveryMessage } from '../../src/broker/handover-messages.js'
import { MemoryBroker } from '../../src/broker/memory-broker.js'
import { MemoryHistory } from '../../src/broker/memory-history.js'
import { MemoryBus, MemoryTransport } from '../../src/broker/memory-transport.js'
import type { HistoryOptions } from '../../src/broker/position.js'
import { RedisBroker } from '../../src/broker/redis-broker.js'
import { RedisTransport } from '../../src/broker/redis-transport.js'
import type { Transport } from '../../src/broker/transport.js'
import type { DirectMessage, Publication } from '../../src/protocol/messages.js'
import { until } from '../helpers/cluster.js'
import { TestRedis } from '../helpers/redis.js'

/** A hand-written sink at the broker's seam: records what the broker hands the server, wakes waiters on each call. */
class Sink implements BrokerSink {
  readonly pubs: Publication[] = []
  readonly directs: DirectMessage[] = []
  readonly deliveries: { origin: string; msg: DeliveryMessage }[] = []
  /** Connections this instance holds (for direct messages). */
  readonly connections = new Set<string>()
  /** What deliver() reports as the local subscriber count. */
  subscribers = 1
  readonly #waiters: { pred: () => boolean; resolve: () => void }[] = []

  deliver(pub: Publication): number {
    this.pubs.push(pub)
    this.#wake()
    return this.subscribers
  }

  deliverDirect(msg: DirectMessage): boolean {
    if (!this.connections.has(msg.connectionId)) return false
    this.directs.push(msg)
    this.#wake()
    return true
  }

  subscriberCount(): number {
    return this.subscribers
  }

  receiveDelivery(origin: string, msg: DeliveryMessage): void {
    this.deliveries.push({ origin, msg })
    this.#wake()
  }

  ids(): string[] {
    return this.pubs.map((p) => p.id)
  }

  /** Resolves once `pred` holds, re-checked on every call into the sink. */
  until(pred: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    if (pred()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what}: not within ${timeoutMs} ms; got ${JSON.stringify(this.ids())}`)), timeoutMs)
      this.#waiters.push({ pred, resolve: () => (clearTimeout(timer), resolve()) })
    })
  }

  #wake(): void {
    for (const w of [...this.#waiters]) {
      if (w.pred()) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1)
        w.resolve()
      }
    }
  }
}

const SERVICE = 'layer'
const ROOM = 'room:1'
const history: HistoryOptions = { size: 100, ttlMs: 60_000, metaTtlMs: 120_000 }

function pub(id: string): Publication {
  return { id, channel: ROOM, event: 'note', data: { id }, timestamp: '2026-01-01T00:00:00.000Z' }
}

/** How to build the instances of one cluster, and a bare transport beside them, on one transport. */
interface Family {
  broker(): ClusterBroker
  transport(): Transport
}

let redis: TestRedis
beforeAll(async () => {
  redis = await TestRedis.start()
})
afterAll(async () => redis?.kill())

const families: [string, () => Family][] = [
  [
    'memory (a MemoryBus)',
    () => {
      const bus = new MemoryBus()
      const shared = new MemoryHistory()
      return { broker: () => new MemoryBroker({ bus, history: shared }), transport: () => new MemoryTransport(bus) }
    },
  ],
  [
    'redis',
    () => {
      const prefix = `layer-${randomUUID().slice(0, 8)}:`
      return { broker: () => new RedisBroker({ url: redis.url, prefix }), transport: () => new RedisTransport({ url: redis.url, prefix }) }
    },
  ],
]

describe.each(families)('the cluster layer over %s', (_name, family) => {
  const closers: (() => Promise<unknown>)[] = []
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close()
  })

  /** Two instances of one service, each with its sink, both with a member in ROOM, knowing each other. */
  async function pair(): Promise<{ a: ClusterBroker; b: ClusterBroker; sa: Sink; sb: Sink; ida: string; f: Family }> {
    const f = family()
    const [a, b] = [f.broker(), f.broker()]
    const [sa, sb] = [new Sink(), new Sink()]
    const [ida, idb] = [randomUUID(), randomUUID()]
    for (const [broker, sink, id] of [[a, sa, ida], [b, sb, idb]] as const) {
      closers.push(() => broker.close())
      await broker.start(sink, { id, service: SERVICE, connections: () => 1 })
      broker.roomActive(ROOM)
      await broker.whenSubscribed(ROOM)
    }
    await Promise.all([a, b].map((x) => until(x, 'peers', () => x.stats().instances === 2)))
    expect([a.state, b.state]).toEqual(['connected', 'connected'])
    return { a, b, sa, sb, ida, f }
  }

  it('delivers a publication once on every instance: at once on its publisher, whose echo is dropped', async () => {
    const { a, b, sa, sb } = await pair()
    const outcome = await a.publish(pub('p1'), null)
    expect(outcome).toMatchObject({ local: 1, instances: 1 })
    expect(sa.ids()).toEqual(['p1'])
    await sb.until(() => sb.ids().includes('p1'), 'b gets p1')
    // A message from b after p1 reaches a after a's own echo of p1 (one order per channel).
    await b.publish(pub('p2'), null)
    await sa.until(() => sa.ids().includes('p2'), 'a gets p2')
    expect([sa.ids(), sb.ids()]).toEqual([['p1', 'p2'], ['p1', 'p2']])
    expect(a.stats()).toMatchObject({ published: 1, received: 1, malformed: 0, dropped: 0, clusterConnections: 2 })
  })

  it('numbers history publications of every instance in one stream, delivered in that order everywhere, the publisher included', async () => {
    const { a, b, sa, sb } = await pair()
    const outcomes = await Promise.all([a.publish(pub('h1'), history), b.publish(pub('h2'), history), a.publish(pub('h3'), history)])
    const offsets = outcomes.map((o) => o.pub.position?.offset).sort()
    expect(offsets).toEqual([1, 2, 3])
    for (const sink of [sa, sb]) {
      await sink.until(() => sink.pubs.length === 3, 'three history publications')
      expect(sink.pubs.map((p) => p.position?.offset)).toEqual([1, 2, 3])
    }
    const page = await b.history(ROOM, 1, history)
    expect(page.publications.map((p) => p.position.offset)).toEqual([2, 3])
    expect(page.top.offset).toBe(3)
  })

  it('sends a direct message to the instance holding the connection, and answers unknown when none does', async () => {
    const { a, sb } = await pair()
    sb.connections.add('c-b')
    const msg = (connectionId: string): DirectMessage => ({ id: randomUUID(), connectionId, event: 'note', data: {}, timestamp: '2026-01-01T00:00:00.000Z' })
    expect(await a.sendDirect(msg('c-b'))).toBe('remote')
    expect(sb.directs.map((d) => d.connectionId)).toEqual(['c-b'])
    expect(await a.sendDirect(msg('nobody'))).toBe('unknown')
  })

  it('counts the subscribers other instances report, and hands tracked-delivery messages over', async () => {
    const { a, b, sb, ida } = await pair()
    sb.subscribers = 5
    expect(await a.publish(pub('r1'), null, { countRemote: true })).toMatchObject({ local: 1, instances: 1, remote: 5 })
    expect(await a.publish(pub('r2'), history, { countRemote: true })).toMatchObject({ instances: 1, remote: 5 })
    a.sendDelivery({ kind: 'claim', recipient: 'u1' })
    await sb.until(() => sb.deliveries.length === 1, 'the claim')
    expect(sb.deliveries[0]).toEqual({ origin: ida, msg: { kind: 'claim', recipient: 'u1' } })
    expect(b.stats().received).toBe(2)
  })

  it('counts and drops what is not a cluster message, and forgets an instance that leaves', async () => {
    const { a, b, f } = await pair()
    // A bare transport of the same service, beside the brokers: it moves whatever bytes it is given.
    const raw = f.transport()
    closers.push(() => raw.close(null))
    expect(await raw.open(SERVICE, 'raw', { message: () => {}, sendReady: () => {}, receiveReady: () => {}, lost: () => {} })).toBe(true)
    await raw.publish(CONTROL_CHANNEL, 'not json')
    await raw.publish(CONTROL_CHANNEL, JSON.stringify({ v: 1, type: 'heartbeat', origin: 'x', connections: -1 }))
    // Heard after the two above (one publisher, one order): once it is, they were counted.
    await raw.publish(CONTROL_CHANNEL, JSON.stringify({ v: 1, type: 'heartbeat', origin: 'raw', connections: 0 }))
    await Promise.all([a, b].map((x) => until(x, 'peers', () => x.stats().instances === 3)))
    expect([a.stats().malformed, b.stats().malformed]).toEqual([2, 2])
    await b.close()
    await until(a, 'peers', () => a.stats().instances === 2)
  })

  it('a room heard both by its name and through every room (while observers come or go, docs/protocol.md A.9) is handed over once per message', async () => {
    const f = family()
    const heard: string[] = []
    const waiters = new Set<() => void>()
    const hears = (bytes: string, timeoutMs = 15_000) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!heard.includes(bytes)) return
          waiters.delete(check)
          clearTimeout(timer)
          resolve()
        }
        const timer = setTimeout(() => reject(new Error(`${bytes} not heard within ${timeoutMs} ms; heard ${JSON.stringify(heard)}`)), timeoutMs)
        waiters.add(check)
        check()
      })
    const [listener, sender] = [f.transport(), f.transport()]
    closers.push(() => listener.close(null), () => sender.close(null))
    const quiet = { sendReady: () => {}, receiveReady: () => {}, lost: () => {} }
    const message = (bytes: string) => {
      heard.push(bytes)
      for (const w of [...waiters]) w()
    }
    expect(await listener.open(SERVICE, 'listener', { ...quiet, message })).toBe(true)
    expect(await sender.open(SERVICE, 'sender', { ...quiet, message: () => {} })).toBe(true)
    await listener.subscribe([roomChannel(ROOM)])
    await listener.subscribeEveryRoom()
    for (const bytes of ['p1', 'p2', 'p3']) await sender.publish(roomChannel(ROOM), bytes)
    await sender.publish(roomChannel('room:other'), 'p4')
    // One sender, one order: once p5 is heard, every copy of the ones before it was too.
    await sender.publish(roomChannel(ROOM), 'p5')
    await hears('p5')
    expect(heard).toEqual(['p1', 'p2', 'p3', 'p4', 'p5'])
    // Every room dropped: the room subscribed by name goes on, the others are no longer heard.
    await listener.unsubscribeEveryRoom()
    await sender.publish(roomChannel('room:other'), 'p6')
    await sender.publish(roomChannel(ROOM), 'p7')
    await hears('p7')
    expect(heard).toEqual(['p1', 'p2', 'p3', 'p4', 'p5', 'p7'])
  })
})
