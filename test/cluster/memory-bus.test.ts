import { afterEach, describe, expect, it } from 'vitest'
import { MemoryHistory } from '../../src/broker/memory-history.js'
import { MemoryBroker, type SettingsInput } from '../../src/index.js'
import { MemoryBus } from '../../src/broker/memory-transport.js'
import { type Frame, TestClient } from '../helpers/client.js'
import { until } from '../helpers/cluster.js'
import { startService, type Started } from '../helpers/server.js'

const HISTORY: SettingsInput = { allow_client_publish: true, history: [{ channel: 'workflow:*', size: 1000, ttl: 300 }] }
const isStarted = (f: Frame) => f.type === 'event' && f.event === 'workflow.started'

/**
 * The cluster layer is the same whatever moves its bytes: two instances of a service in one
 * process on a MemoryBus (and one MemoryHistory) behave as two instances on one Redis.
 */
describe('two instances of workflow on one MemoryBus', () => {
  let nodes: Started[] = []
  const clients: TestClient[] = []
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()))
    await Promise.all(nodes.map((n) => n.server.close()))
    nodes = []
  })
  const connect = async (node: Started) => {
    const c = await TestClient.connect(node.url)
    clients.push(c)
    return c
  }

  async function start(): Promise<[Started, Started]> {
    const bus = new MemoryBus()
    const history = new MemoryHistory()
    const brokers = [new MemoryBroker({ bus, history }), new MemoryBroker({ bus, history })]
    nodes = [await startService('workflow', HISTORY, { broker: brokers[0] }), await startService('workflow', HISTORY, { broker: brokers[1] })]
    await Promise.all(brokers.map((b) => until(b, 'peers', () => b.stats().instances === 2)))
    return nodes as [Started, Started]
  }

  it('numbers one stream from both publishers, delivers it once in order on both, and recovers on the other instance', async () => {
    const [a, b] = await start()
    const [onA, onB] = [await connect(a), await connect(b)]
    const epoch = (await onA.subscribe('workflow:w1')).data!.epoch as string
    expect((await onB.subscribe('workflow:w1')).data!.epoch).toBe(epoch)
    const publish = (node: Started, n: number) => node.server.publish('workflow:w1', 'workflow.started', { workflow_id: 'w1', n })
    for (let n = 1; n <= 10; n++) await Promise.all([publish(a, n), publish(b, n)])
    for (const c of [onA, onB]) {
      const offsets: number[] = []
      for (let i = 0; i < 20; i++) offsets.push((await c.next(isStarted)).offset as number)
      expect(offsets).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
    }
    const late = await connect(b)
    const answer = await late.request('subscribe', { channel: 'workflow:w1', since: { offset: 15, epoch } })
    expect(answer.data).toMatchObject({ recovered: true, offset: 20, epoch })
    const replayed: number[] = []
    for (let i = 0; i < 5; i++) replayed.push((await late.next(isStarted)).offset as number)
    expect(replayed).toEqual([16, 17, 18, 19, 20])
    expect([onA.pending.filter(isStarted), onB.pending.filter(isStarted)]).toEqual([[], []])
  })

  it('keeps every projection whole (the service observes every room) and counts remote subscribers of POST /publish', async () => {
    const [a, b] = await start()
    const watcher = await connect(b)
    await watcher.subscribe('workflow:w2')
    // Nobody subscribes to workflow:w7: b's projection must see its events all the same.
    await a.server.publish('workflow:w7', 'workflow.started', { workflow_id: 'w7', total_stages: 2 })
    const res = await fetch(`${a.http}/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'workflow:w2', event: 'workflow.started', data: { workflow_id: 'w2' } }),
    })
    expect(await res.json()).toMatchObject({ delivered: 1, instances: 2 })
    await watcher.next(isStarted)
    const status = await watcher.request('get_workflow_status', { workflow_id: 'w7' })
    expect(status.data).toMatchObject({ workflow_id: 'w7', status: 'running', total_stages: 2 })
  })
})
