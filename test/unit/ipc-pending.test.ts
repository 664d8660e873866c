import { describe, expect, it } from 'vitest'
import type { IpcPeer } from '../../src/broker/ipc-hub.js'
import { PrimaryPending } from '../../src/broker/ipc-pending.js'
import type { StoredEntry } from '../../src/broker/pending-store.js'

const peer = (): IpcPeer => ({ send: () => true, on: () => undefined, off: () => undefined })
const write = (self: string, ops: unknown[], frames: Record<string, string>, keepMs = 60_000) => ({ op: 'write', self, keepMs, max: 3, frames, ops })

describe('the primary’s record of pending tracked deliveries (workers without Redis)', () => {
  it('gives a record to another worker only once its owner’s lease ended: at once when the owner exited, else when it runs out', () => {
    let now = 1000
    const store = new PrimaryPending(() => now)
    const a = peer()
    const b = peer()
    store.apply({ op: 'renew', self: 'A', leaseMs: 6000 }, a)
    store.apply(write('A', [['erin', 'e2', 'task.created', 1, 20], ['erin', 'e1', 'task.created', 2, 10]], { e1: '{"1":1}', e2: '{"2":2}' }), a)
    expect(store.apply({ op: 'adopt', self: 'B', identity: 'erin' }, b)).toEqual({ wait: 6000 })
    now += 6001
    const got = store.apply({ op: 'adopt', self: 'B', identity: 'erin' }, b) as { entries: readonly StoredEntry[] }
    // In the order first tracked, with the sends spent.
    expect(got.entries.map((e) => [e.id, e.attempts])).toEqual([['e1', 2], ['e2', 1]])
    // B owns it now; A, alive again, waits for B.
    store.apply({ op: 'renew', self: 'B', leaseMs: 6000 }, b)
    expect(store.apply({ op: 'adopt', self: 'A', identity: 'erin' }, a)).toEqual({ wait: 6000 })
    store.gone(b)
    expect(store.apply({ op: 'adopt', self: 'A', identity: 'erin' }, a)).toMatchObject({ entries: [{ id: 'e1' }, { id: 'e2' }] })
  })

  it('removes acknowledged events, keeps at most `max` per identity, drops a record keepMs after its last write, and refuses malformed operations', () => {
    let now = 0
    const store = new PrimaryPending(() => now)
    const a = peer()
    const frames = { x1: 'a', x2: 'b', x3: 'c', x4: 'd' }
    store.apply(write('A', ['x1', 'x2', 'x3', 'x4'].map((id, i) => ['ida', id, 'task.created', 1, i]), frames, 1000), a)
    store.apply(write('A', [['ida', 'x2']], {}, 1000), a)
    expect((store.apply({ op: 'adopt', self: 'A', identity: 'ida' }, a) as { entries: readonly StoredEntry[] }).entries.map((e) => e.id)).toEqual(['x1', 'x3'])
    now = 1001
    expect(store.apply({ op: 'adopt', self: 'A', identity: 'ida' }, a)).toEqual({ entries: [] })
    expect(store.identities).toBe(0)
    for (const bad of [null, { op: 'adopt' }, { op: 'write', self: 'A', keepMs: -1, max: 1, frames: {}, ops: [] }, { op: 'renew', self: '', leaseMs: 1 }, { op: 'rm -rf', self: 'A' }]) {
      expect(() => store.apply(bad, a)).toThrow()
    }
  })

  it('a publisher’s record for a private channel’s owner takes no ownership: the worker its recipient reconnects to adopts it at once', () => {
    const now = 1000
    const store = new PrimaryPending(() => now)
    const a = peer()
    const b = peer()
    const c = peer()
    store.apply({ op: 'renew', self: 'A', leaseMs: 6000 }, a)
    // A publishes for erin (connected nowhere yet): recorded, owned by nobody.
    store.apply({ ...write('A', [['erin', 'p1', 'task.created', 1, 1]], { p1: '{"p":1}' }), publisher: true }, a)
    expect(store.apply({ op: 'adopt', self: 'B', identity: 'erin' }, b)).toMatchObject({ entries: [{ id: 'p1' }] })
    // B owns it now; another publisher's record leaves B the owner.
    store.apply({ op: 'renew', self: 'B', leaseMs: 6000 }, b)
    store.apply({ ...write('A', [['erin', 'p2', 'task.created', 1, 2]], { p2: '{"p":2}' }), publisher: true }, a)
    expect(store.apply({ op: 'adopt', self: 'C', identity: 'erin' }, c)).toEqual({ wait: 6000 })
  })
})
