import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { createDeclared } from '../../services/declared/index.js'
import type { ClusterBroker } from '../../src/broker/cluster-broker.js'
import { type Broker, MemoryBroker, type SettingsInput } from '../../src/index.js'
import { MemoryHistory } from '../../src/broker/memory-history.js'
import { MemoryBus } from '../../src/broker/memory-transport.js'
import { type Frame, TestClient } from '../helpers/client.js'
import { clusterFormed, until } from '../helpers/cluster.js'
import { BACKENDS, useBackend } from '../helpers/redis-backends.js'
import { startServer, type Started } from '../helpers/server.js'

/**
 * An observer sees every publication of the cluster (docs/protocol.md A.9): while an instance has
 * observers, the cluster hands it every room's publications, not only those of rooms with local
 * members; each once, also for a room it both subscribes and observes; and once its last
 * observer is gone, the instance hears only its own rooms again.
 *
 * The service is one without a projection (no `onPublication` hook: a service declared in YAML
 * without lookups, like the workspace service): a service with one hears every room anyway.
 */
const RELAY: SettingsInput = parseYaml(`
service:
  name: relay
  channels:
    - pattern: "feed:{id}"
    - pattern: "log:{id}"
      history: true
  events:
    item.added:
      schema: { type: object, required: [n], properties: { n: { type: integer } } }
`) as SettingsInput

const startRelay = (settings: SettingsInput = {}, broker?: Broker) => startServer((s, o) => createDeclared(s, o), { ...RELAY, ...settings }, broker === undefined ? {} : { broker })

let nodes: Started[] = []
const clients: TestClient[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await Promise.all(nodes.map((n) => n.server.close()))
  nodes = []
})

async function connect(node: Started): Promise<TestClient> {
  const c = await TestClient.connect(node.url)
  clients.push(c)
  return c
}

const isEvent = (room: string, id?: string) => (f: Frame) => f.type === 'event' && f.room === room && (id === undefined || f.id === id)
/** How many frames carry the event `id`. */
const copies = (c: TestClient, id: string) => c.raw.filter((r) => r.includes(id)).length
const received = (n: Started) => (n.server.broker as ClusterBroker).stats().received

/** The tests every pair of instances passes, whatever carries their messages. */
function suite(start: () => Promise<[Started, Started]>): void {
  it('an observer on A sees, exactly once, a publication made on B to a channel with subscribers only on B', async () => {
    const [a, b] = await start()
    const subscriber = await connect(b)
    await subscriber.subscribe('feed:w1')
    const observer = await connect(a)
    expect((await observer.request('observe', { pattern: 'feed:*' })).data).toEqual({ status: 'observing', pattern: 'feed:*' })

    const { pub } = await b.server.publish('feed:w1', 'item.added', { n: 1 })
    expect(await observer.next(isEvent('feed:w1', pub.id), 15_000)).toMatchObject({ event: 'item.added', data: { n: 1 } })
    await subscriber.next(isEvent('feed:w1', pub.id))
    // A later publication of the same channel from the same instance comes after any copy of the first.
    const marker = (await b.server.publish('feed:w1', 'item.added', { n: 2 })).pub
    await observer.next(isEvent('feed:w1', marker.id), 15_000)
    expect(copies(observer, pub.id)).toBe(1)
    expect(copies(subscriber, pub.id)).toBe(1)
    // A stored (history) publication made on B reaches it too, once.
    await observer.request('observe', { pattern: 'log:*' })
    const stored = (await b.server.publish('log:l1', 'item.added', { n: 0 })).pub
    await observer.next(isEvent('log:l1', stored.id), 15_000)
    // Observing is no subscribing: A still counts no subscriber of either channel.
    expect(a.server.roomCounts()).toEqual({})
  })

  it('a room both subscribed and observed on A arrives once to each; after the last unobserve A hears its own rooms only, without a gap', async () => {
    const [a, b] = await start()
    const observer = await connect(a)
    const local = await connect(a)
    await local.subscribe('feed:w2')
    await observer.request('observe', { pattern: '*' })
    await observer.subscribe('feed:w2')
    const remote = await connect(b)
    await remote.subscribe('feed:elsewhere')

    const both = (await b.server.publish('feed:w2', 'item.added', { n: 3 })).pub
    const elsewhere = (await b.server.publish('feed:elsewhere', 'item.added', { n: 4 })).pub
    await observer.next(isEvent('feed:elsewhere', elsewhere.id), 15_000)
    await local.next(isEvent('feed:w2', both.id), 15_000)
    const marker = (await b.server.publish('feed:w2', 'item.added', { n: 5 })).pub
    await observer.next(isEvent('feed:w2', marker.id), 15_000)
    await local.next(isEvent('feed:w2', marker.id), 15_000)
    expect(copies(observer, both.id)).toBe(1)
    expect(copies(local, both.id)).toBe(1)

    // The last pattern goes: A is back to its own rooms (feed:w2), which keep arriving.
    expect((await observer.request('unobserve', { pattern: '*' })).data).toEqual({ status: 'unobserved', pattern: '*' })
    const before = received(a)
    const notHere = (await b.server.publish('feed:elsewhere', 'item.added', { n: 6 })).pub
    await remote.next(isEvent('feed:elsewhere', notHere.id), 15_000)
    const after = (await b.server.publish('feed:w2', 'item.added', { n: 7 })).pub
    await local.next(isEvent('feed:w2', after.id), 15_000)
    await observer.next(isEvent('feed:w2', after.id), 15_000)
    // Only the publication of its own room reached A (publications of one instance keep their order).
    expect(received(a) - before).toBe(1)
    expect(copies(observer, notHere.id)).toBe(0)
    expect(copies(local, after.id)).toBe(1)
  })

  it('an observer that closes is the last one gone, like an unobserve; a new observer hears everything again', async () => {
    const [a, b] = await start()
    const remote = await connect(b)
    await remote.subscribe('feed:w3')
    const first = await connect(a)
    await first.request('observe', { pattern: 'feed:*' })
    await first.close()
    clients.splice(clients.indexOf(first), 1)
    const second = await connect(a)
    await second.request('observe', { pattern: 'feed:*' })
    const { pub } = await b.server.publish('feed:w3', 'item.added', { n: 8 })
    await second.next(isEvent('feed:w3', pub.id), 15_000)
    await second.alive()
    expect(copies(second, pub.id)).toBe(1)
  })
}

describe('observer across two instances on a MemoryBus', () => {
  suite(async () => {
    const bus = new MemoryBus()
    const history = new MemoryHistory()
    const brokers = [new MemoryBroker({ bus, history }), new MemoryBroker({ bus, history })]
    nodes = [await startRelay({}, brokers[0]), await startRelay({}, brokers[1])]
    await Promise.all(brokers.map((br) => until(br, 'peers', () => br.stats().instances === 2)))
    return nodes as [Started, Started]
  })
})

for (const kind of BACKENDS) {
  describe(`observer across two instances over ${kind}`, () => {
    const backend = useBackend(kind)
    suite(async () => {
      const redis = backend.settings(`observer-${randomUUID().slice(0, 8)}:`)
      nodes = [await startRelay({ redis }), await startRelay({ redis })]
      await clusterFormed(nodes.map((n) => n.server))
      return nodes as [Started, Started]
    })
  })
}
