import { describe, expect, it } from 'vitest'
import type { DeliveryMessage } from '../../src/broker/handover-messages.js'
import type { Adoption, PendingStore, StoredEntry } from '../../src/broker/pending-store.js'
import { DeliverySettingsSchema } from '../../src/delivery/delivery-settings.js'
import { Delivery } from '../../src/delivery/delivery.js'
import { textFrame } from '../../src/server/frame.js'
import { ManualClock, RecordingTarget } from '../helpers/manual-clock.js'

const EVENTS = ['task.created', 'task.completed', 'agent.connected']

/** Instances of one service whose delivery messages travel through an in-memory cluster. */
function cluster(n: number, settings = { tracked: ['task.*'], ack_timeout: 0.2 }) {
  const clock = new ManualClock()
  const wire: { origin: string; msg: DeliveryMessage }[] = []
  const nodes = Array.from({ length: n }, () => new Delivery(DeliverySettingsSchema.parse(settings), EVENTS, { clock }))
  let connected = true
  nodes.forEach((node, i) =>
    node.join(`i${i}`, {
      get connected() {
        return connected
      },
      send(msg) {
        wire.push({ origin: `i${i}`, msg })
        // Every instance hears every message, its own too (it drops its own echo).
        for (const other of nodes) other.receive(`i${i}`, structuredClone(msg))
      },
    }),
  )
  const publish = (node: Delivery, id: string, ...targets: RecordingTarget[]) => {
    const frame = node.frame(textFrame(JSON.stringify({ id, event: 'task.created' })))
    for (const t of targets) {
      t.sendFramed(frame.bytes)
      node.track(t, id, 'task.created', frame)
    }
  }
  return {
    clock,
    nodes,
    wire,
    publish,
    target: (id: string) => new RecordingTarget(id, clock),
    setConnected: (v: boolean) => (connected = v),
  }
}

describe('Delivery', () => {
  it('tracks the declared events matching delivery.tracked, nothing by default', () => {
    const d = new Delivery(DeliverySettingsSchema.parse({ tracked: ['task.*'] }), EVENTS)
    expect(d.trackedEvents).toEqual(['task.completed', 'task.created'])
    expect([d.enabled, d.isTracked('task.created'), d.isTracked('agent.connected')]).toEqual([true, true, false])
    expect(new Delivery(DeliverySettingsSchema.parse({}), EVENTS).enabled).toBe(false)
  })

  it('hands pending events over when their identity reconnects to another instance', () => {
    const { clock, nodes, wire, publish, target } = cluster(2)
    const [a, b] = nodes as [Delivery, Delivery]
    const old = target('old')
    a.attach(old, 'agent-1')
    publish(a, 'msg_1', old)
    publish(a, 'msg_2', old)
    a.detach(old)
    clock.advance(50)
    const fresh = target('fresh')
    b.attach(fresh, 'agent-1')
    expect(fresh.ids()).toEqual(['msg_1', 'msg_2'])
    expect(wire.map((w) => w.msg.kind)).toEqual(['claim', 'claim', 'handover'])
    expect([a.stats().pending, b.stats().pending, a.stats().handedOver, b.stats().adopted]).toEqual([0, 2, 2, 2])
    expect(b.ack(fresh, 'msg_1')).toBe(true)
    clock.advance(5000)
    expect(b.stats()).toMatchObject({ acked: 1, failed: 1, pending: 0 })
    expect(a.stats().failed).toBe(0)
  })

  it('hands them over when the old connection closes only after the identity reconnected elsewhere', () => {
    const { nodes, publish, target } = cluster(2)
    const [a, b] = nodes as [Delivery, Delivery]
    const old = target('old')
    a.attach(old, 'agent-1')
    publish(a, 'msg_1', old)
    const fresh = target('fresh')
    b.attach(fresh, 'agent-1')
    expect(fresh.ids()).toEqual([]) // the old connection still looks open on a
    a.detach(old)
    expect(fresh.ids()).toEqual(['msg_1'])
  })

  it('keeps the events (and their schedule) while the cluster is unreachable', () => {
    const { clock, nodes, wire, publish, target, setConnected } = cluster(2)
    const [a, b] = nodes as [Delivery, Delivery]
    const old = target('old')
    a.attach(old, 'agent-1')
    publish(a, 'msg_1', old)
    a.detach(old)
    setConnected(false)
    const said = wire.length
    b.attach(target('fresh'), 'agent-1')
    expect(wire).toHaveLength(said)
    expect(a.stats().pending).toBe(1)
    const back = target('back')
    a.attach(back, 'agent-1')
    expect(back.ids()).toEqual(['msg_1'])
    clock.advance(5000)
    expect(a.stats()).toMatchObject({ failed: 1, pending: 0 })
  })

  it('says nothing to the cluster for anonymous connections or a service that tracks nothing', () => {
    const { nodes, wire, target } = cluster(2)
    nodes[0]!.attach(target('anon'), null)
    const quiet = cluster(2, { tracked: [], ack_timeout: 1 })
    quiet.nodes[0]!.attach(quiet.target('x'), 'agent-1')
    expect([wire.length, quiet.wire.length]).toEqual([0, 0])
  })
  it('an adoption whose answer comes back after the identity left and its events were handed over adopts none of them again', async () => {
    // One record shared by the instances (what Redis keeps): owners and entries per identity.
    const owners = new Map<string, string>()
    const record = new Map<string, Map<string, StoredEntry>>()
    // a's adoption: its script runs when `run` is called, its answer arrives when `answer` is (a slow node).
    let run: (() => void) | null = null
    let answer: (() => void) | null = null
    const store = (self: string, hold: boolean): PendingStore => ({
      kind: 'redis',
      durable: true,
      put: (identity, entry) => void (record.get(identity) ?? record.set(identity, new Map()).get(identity)!).set(entry.id, entry),
      remove: (identity, id) => void record.get(identity)?.delete(id),
      async adopt(identity): Promise<Adoption> {
        if (hold) await new Promise<void>((resolve) => (run = resolve))
        const owner = owners.get(identity)
        if (owner !== undefined && owner !== self) return { wait: 1000 }
        owners.set(identity, self)
        const entries = [...(record.get(identity)?.values() ?? [])]
        if (hold) await new Promise<void>((resolve) => (answer = resolve))
        return { entries }
      },
      release: (identity) => void (owners.get(identity) === self && owners.delete(identity)),
      renew() {},
      open() {},
      close: () => Promise.resolve(),
    })
    const clock = new ManualClock()
    const settings = DeliverySettingsSchema.parse({ tracked: ['task.*'], ack_timeout: 2 })
    const [a, b] = [new Delivery(settings, EVENTS, { clock }), new Delivery(settings, EVENTS, { clock })]
    const nodes = [a, b]
    nodes.forEach((node, i) =>
      node.join(`i${i}`, { connected: true, send: (msg) => nodes.forEach((n) => n.receive(`i${i}`, structuredClone(msg))) }, store(`i${i}`, i === 0)),
    )
    const old = new RecordingTarget('old', clock)
    a.attach(old, 'alice') // a's adoption of alice's (empty) record is under way
    for (const id of ['msg_1', 'msg_2']) {
      const frame = a.frame(textFrame(JSON.stringify({ id, event: 'task.created' })))
      a.deliver(old, id, 'task.created', frame, true)
    }
    // The script of a's adoption runs now, after both events were recorded: a owns alice's record.
    run!()
    await new Promise((resolve) => setImmediate(resolve))
    a.detach(old) // lets it go again
    const fresh = new RecordingTarget('fresh', clock)
    b.attach(fresh, 'alice') // b's claim: a hands both over
    await Promise.resolve()
    expect(fresh.ids()).toEqual(['msg_1', 'msg_2'])
    for (const id of fresh.ids()) expect(b.ack(fresh, id)).toBe(true)
    // a's adoption answers now, with both events as its script read them.
    answer!()
    await new Promise((resolve) => setImmediate(resolve))
    clock.advance(3 * 2000 + 100)
    expect(a.stats()).toMatchObject({ handedOver: 2, pending: 0, adopted: 0, failed: 0 })
    expect(b.stats()).toMatchObject({ adopted: 2, acked: 2, failed: 0 })
    expect(record.get('alice')?.size).toBe(0)
  })
})
