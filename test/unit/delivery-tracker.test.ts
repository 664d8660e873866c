import { Writable } from 'node:stream'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { DeliveryTracker, type TrackerOptions } from '../../src/delivery/delivery-tracker.js'
import { textFrame } from '../../src/server/frame.js'
import { ManualClock, RecordingTarget as Target } from '../helpers/manual-clock.js'

function setup(opts: Partial<TrackerOptions> = {}) {
  const clock = new ManualClock()
  const lines: Record<string, unknown>[] = []
  const log = pino(
    { level: 'warn' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>)
        done()
      },
    }),
  )
  const tracker = new DeliveryTracker({
    maxAttempts: 3,
    ackTimeoutMs: 200,
    maxPendingPerRecipient: 100,
    maxPending: 1000,
    maxPendingBytes: 1 << 20,
    clock,
    log,
    ...opts,
  })
  /** Sends the first copy of event `id` to each target, as the server's broadcast does, and tracks it. */
  const broadcast = (id: string, ...targets: Target[]) => {
    const frame = tracker.frame(textFrame(JSON.stringify({ id, event: 'task.created' })))
    return targets.map((t) => {
      t.sendFramed(frame.bytes)
      return tracker.track(t, id, 'task.created', frame)
    })
  }
  return { clock, tracker, lines, broadcast, target: (id: string) => new Target(id, clock) }
}

describe('DeliveryTracker', () => {
  it('sends an unacknowledged event max_attempts times, ack_timeout apart, the same bytes, then counts it failed', () => {
    const { clock, tracker, lines, broadcast, target } = setup()
    const c = target('c1')
    tracker.attach(c, 'agent-1')
    broadcast('msg_1', c)
    clock.advance(1000)
    expect(c.got.map((g) => g.at)).toEqual([0, 200, 400])
    expect(c.ids()).toEqual(['msg_1', 'msg_1', 'msg_1'])
    expect(c.got[1]!.frame).toBe(c.got[0]!.frame)
    expect(tracker.stats()).toMatchObject({ pending: 0, failed: 1, resent: 2, tracked: 1, pendingBytes: 0 })
    expect(lines).toEqual([expect.objectContaining({ msg: 'tracked delivery failed', event: 'task.created', id: 'msg_1', recipient: 'agent-1', attempts: 3 })])
  })

  it('stops at the ack: one copy, nothing pending, nothing failed', () => {
    const { clock, tracker, broadcast, target } = setup()
    const c = target('c1')
    tracker.attach(c, null)
    broadcast('msg_1', c)
    broadcast('msg_2', c)
    expect(tracker.stats().pending).toBe(2)
    expect(tracker.ack(c, 'msg_1')).toBe(true)
    clock.advance(150)
    expect(tracker.ack(c, 'msg_2')).toBe(true)
    clock.advance(1000)
    expect(c.ids()).toEqual(['msg_1', 'msg_2'])
    expect(tracker.stats()).toMatchObject({ pending: 0, acked: 2, failed: 0, resent: 0 })
  })

  it('ignores and counts acks for unknown, foreign or already settled ids', () => {
    const { tracker, broadcast, target } = setup()
    const [a, b] = [target('a'), target('b')]
    tracker.attach(a, 'agent-a')
    tracker.attach(b, 'agent-b')
    broadcast('msg_1', a)
    expect(tracker.ack(b, 'msg_1')).toBe(false)
    expect(tracker.ack(a, 'msg_nope')).toBe(false)
    expect(tracker.ack(a, 'msg_1')).toBe(true)
    expect(tracker.ack(a, 'msg_1')).toBe(false)
    expect(tracker.ack(target('stranger'), 'msg_1')).toBe(false)
    expect(tracker.stats()).toMatchObject({ unknownAcks: 4, acked: 1, pending: 0 })
  })

  it('gives an identity its pending events on its new connection, keeping the retry schedule', () => {
    const { clock, tracker, broadcast, target } = setup()
    const old = target('old')
    tracker.attach(old, 'agent-1')
    broadcast('msg_1', old)
    broadcast('msg_2', old)
    clock.advance(50)
    expect(tracker.detach(old)).toBe('agent-1')
    clock.advance(200) // the attempt at 200 finds no connection: it is spent
    const fresh = target('fresh')
    tracker.attach(fresh, 'agent-1')
    expect(fresh.ids()).toEqual(['msg_1', 'msg_2'])
    expect(tracker.ack(fresh, 'msg_1')).toBe(true)
    clock.advance(1000)
    expect(fresh.got.map((g) => g.at)).toEqual([250, 250, 400])
    expect(tracker.stats()).toMatchObject({ pending: 0, acked: 1, failed: 1 })
  })

  it('moves a closed connection\'s events to the identity\'s other open connection at once', () => {
    const { tracker, broadcast, target } = setup()
    const [one, two] = [target('one'), target('two')]
    tracker.attach(one, 'user-1')
    tracker.attach(two, 'user-1')
    expect(broadcast('e1', one, two)).toEqual([true, true])
    expect(tracker.stats().pending).toBe(1) // one identity, one entry
    expect(tracker.detach(one)).toBeNull()
    expect(two.ids()).toEqual(['e1', 'e1'])
    expect(tracker.ack(two, 'e1')).toBe(true)
  })

  it('fails an anonymous connection\'s events when it closes', () => {
    const { tracker, lines, broadcast, target } = setup()
    const c = target('c9')
    tracker.attach(c, null)
    broadcast('e1', c)
    expect(tracker.detach(c)).toBeNull()
    expect(tracker.stats()).toMatchObject({ pending: 0, failed: 1 })
    expect(lines[0]).toMatchObject({ recipient: 'connection c9', reason: 'connection closed' })
  })

  it('joins an anonymous connection\'s events to the identity it authenticates as', () => {
    const { clock, tracker, broadcast, target } = setup()
    const c = target('c1')
    tracker.attach(c, null)
    broadcast('e1', c)
    tracker.attach(c, 'agent-7')
    expect(tracker.pendingOf('agent-7')).toBe(1)
    tracker.detach(c)
    expect(tracker.stats().failed).toBe(0)
    const again = target('c2')
    tracker.attach(again, 'agent-7')
    expect(again.ids()).toEqual(['e1'])
    clock.advance(5000)
    expect(tracker.stats()).toMatchObject({ pending: 0, failed: 1 })
  })

  it('bounds pending events per recipient and per service, counting the overflow', () => {
    const { tracker, lines, broadcast, target } = setup({ maxPendingPerRecipient: 2, maxPending: 3 })
    const [a, b] = [target('a'), target('b')]
    tracker.attach(a, 'agent-a')
    tracker.attach(b, 'agent-b')
    expect([broadcast('1', a), broadcast('2', a), broadcast('3', a)].flat()).toEqual([true, true, false])
    expect([broadcast('4', b), broadcast('5', b)].flat()).toEqual([true, false])
    expect(tracker.stats()).toMatchObject({ pending: 3, overflow: 2 })
    expect(lines[0]).toMatchObject({ msg: 'delivery bound reached: event sent once without tracking', recipient: 'agent-a', id: '3' })
  })

  it('counts a frame shared by many recipients once against max_pending_bytes', () => {
    const { tracker, broadcast, target } = setup({ maxPendingBytes: 100 })
    const ts = Array.from({ length: 10 }, (_, i) => target(`t${i}`))
    for (const t of ts) tracker.attach(t, null)
    expect(broadcast('e1', ...ts).every(Boolean)).toBe(true)
    const size = tracker.stats().pendingBytes
    expect(size).toBeGreaterThan(30)
    expect(broadcast('e2', ...ts).every(Boolean)).toBe(size * 2 <= 100)
    expect(broadcast('e3'.padEnd(200, 'x'), ts[0]!)).toEqual([false])
  })

  it('hands events waiting without a connection to another instance and adopts them there', () => {
    const a = setup()
    const b = setup()
    const old = a.target('old')
    a.tracker.attach(old, 'agent-1')
    a.broadcast('msg_1', old)
    a.tracker.detach(old)
    a.clock.advance(200)
    expect(a.tracker.hasOrphans('agent-1')).toBe(true)
    const entries = a.tracker.takeOrphans('agent-1')
    expect(entries).toEqual([{ id: 'msg_1', event: 'task.created', text: JSON.stringify({ id: 'msg_1', event: 'task.created' }), attempts: 2 }])
    expect(a.tracker.stats()).toMatchObject({ pending: 0, handedOver: 1, failed: 0 })

    const fresh = b.target('fresh')
    b.tracker.attach(fresh, 'agent-1')
    expect(b.tracker.adopt('agent-1', entries)).toBe(1)
    expect(b.tracker.adopt('agent-1', entries)).toBe(0) // a duplicate handover is ignored
    expect(fresh.ids()).toEqual(['msg_1'])
    b.clock.advance(1000)
    // Attempt 2 was spent on the first instance: one more retry here, then failed.
    expect(fresh.got.map((g) => g.at)).toEqual([0, 200])
    expect(b.tracker.stats()).toMatchObject({ adopted: 1, failed: 1, pending: 0 })
  })

  it('does not adopt again an event the identity acked here: a late second copy (durable record, then the handover) is not sent twice', () => {
    const b = setup()
    const fresh = b.target('fresh')
    b.tracker.attach(fresh, 'agent-1')
    const entry = { id: 'msg_1', event: 'task.created', text: JSON.stringify({ id: 'msg_1', event: 'task.created' }), attempts: 1 }
    expect(b.tracker.adopt('agent-1', [entry])).toBe(1) // from the durable record
    expect(b.tracker.ack(fresh, 'msg_1')).toBe(true)
    expect(b.tracker.adopt('agent-1', [entry])).toBe(0) // the old instance's handover, after the ack
    expect(fresh.ids()).toEqual(['msg_1'])
    expect(b.tracker.stats()).toMatchObject({ adopted: 1, acked: 1, pending: 0 })
    // Another identity's copy of the same event is its own.
    const other = b.target('other')
    b.tracker.attach(other, 'agent-2')
    expect(b.tracker.adopt('agent-2', [entry])).toBe(1)
    // The memory of an ack ends after its window: a copy then is adopted (and sent) as any other.
    b.clock.advance(5 * 60_000 + 1)
    expect(b.tracker.adopt('agent-1', [entry])).toBe(1)
  })

  it('delivers a broadcast in one call: sent and tracked, an observer untracked, an adopted copy not sent twice, and tracked before the send', () => {
    const { tracker, target } = setup()
    const frame = (id: string) => tracker.frame(textFrame(JSON.stringify({ id, event: 'task.created' })))
    const c = target('c1')
    tracker.attach(c, 'agent-1')
    const f1 = frame('msg_1')
    expect(tracker.deliver(c, 'msg_1', 'task.created', f1, true, true)).toBe(true)
    expect(tracker.deliver(c, 'msg_1', 'task.created', f1, true, true)).toBe(false) // it has it, pending
    expect(tracker.deliver(c, 'msg_1', 'task.created', f1, true, false)).toBe(true) // no durable record: sent as before
    expect(c.ids()).toEqual(['msg_1', 'msg_1'])
    expect(tracker.stats()).toMatchObject({ tracked: 1, pending: 1 })

    // An observer's copy owes no ack.
    const o = target('observer')
    tracker.attach(o, 'watcher')
    expect(tracker.deliver(o, 'msg_1', 'task.created', f1, false, true)).toBe(true)
    expect(tracker.pendingOf('watcher')).toBe(0)

    // Adopted from the record, then arriving live: not sent again.
    tracker.adopt('agent-1', [{ id: 'msg_2', event: 'task.created', text: JSON.stringify({ id: 'msg_2', event: 'task.created' }), attempts: 1 }])
    expect(tracker.deliver(c, 'msg_2', 'task.created', frame('msg_2'), true, true)).toBe(false)
    expect(c.ids()).toEqual(['msg_1', 'msg_1', 'msg_2'])

    // A connection that closes within its send: the event is pending for its identity already and waits for it.
    const closing = target('closing')
    tracker.attach(closing, 'agent-3')
    closing.sendFramed = () => {
      tracker.detach(closing)
      return false
    }
    expect(tracker.deliver(closing, 'msg_3', 'task.created', frame('msg_3'), true, true)).toBe(false)
    expect(tracker.hasOrphans('agent-3')).toBe(true)
  })

  it('keeps one timer and a queue no larger than about twice the pending events', () => {
    const { clock, tracker, broadcast, target } = setup({ maxPending: 100_000, maxPendingPerRecipient: 100_000 })
    const c = target('c')
    tracker.attach(c, null)
    for (let i = 0; i < 5000; i++) {
      broadcast(`e${i}`, c)
      tracker.ack(c, `e${i}`)
    }
    expect(clock.timers.size).toBe(1)
    for (let i = 0; i < 5000; i++) broadcast(`k${i}`, c)
    expect(clock.timers.size).toBe(1)
    clock.advance(10_000)
    expect(tracker.stats()).toMatchObject({ pending: 0, failed: 5000, acked: 5000, resent: 10_000 })
    expect(clock.timers.size).toBe(0)
  })

  it('logs at most ten failures per second one by one, then a summary', () => {
    const { clock, tracker, lines, broadcast, target } = setup()
    const c = target('c')
    tracker.attach(c, 'agent')
    for (let i = 0; i < 25; i++) broadcast(`e${i}`, c)
    clock.advance(700)
    expect(lines.filter((l) => l.msg === 'tracked delivery failed')).toHaveLength(10)
    broadcast('late', c)
    clock.advance(2000)
    expect(lines.find((l) => l.failures === 15)).toBeDefined()
    expect(tracker.stats().failed).toBe(26)
  })
})
