import { describe, expect, it } from 'vitest'
import type { Publication } from '../../src/protocol/messages.js'
import { HeldDeliveries } from '../../src/server/history-subscribe.js'

const pub = (offset: number, epoch = 'e1'): Publication => ({
  id: `p${offset}`,
  channel: 'workflow:w1',
  event: 'workflow.started',
  data: {},
  timestamp: '2026-01-01T00:00:00.000Z',
  position: { offset, epoch },
})
const frame = Buffer.from('x')

describe('HeldDeliveries: held during the replay, not sent twice after it', () => {
  it('holds during the replay, then drops what the replay sent until the stream goes past it', () => {
    const held = new HeldDeliveries<string>(1000)
    held.hold('workflow:w1', 'c')
    const gate = () => held.holders('workflow:w1')?.get('c')
    expect(held.pass('c', gate()!, pub(5), frame)).toBe(false)
    expect(held.release('workflow:w1', 'c')?.frames.map((f) => f.pub.position?.offset)).toEqual([5])
    expect(held.holders('workflow:w1')).toBeUndefined()

    held.sentUpTo('workflow:w1', 'c', { offset: 7, epoch: 'e1' })
    // Read by the replay, arriving live afterwards: dropped.
    expect(held.pass('c', gate()!, pub(6), frame)).toBe(false)
    expect(held.pass('c', gate()!, pub(7), frame)).toBe(false)
    // Past the gate: sent, and the channel has no gate left (the common case again).
    expect(held.pass('c', gate()!, pub(8), frame)).toBe(true)
    expect(held.holders('workflow:w1')).toBeUndefined()
  })

  it('a new epoch passes the gate; a subscriber that leaves is forgotten, and a new subscribe holds again', () => {
    const held = new HeldDeliveries<string>(1000)
    held.sentUpTo('workflow:w1', 'c', { offset: 7, epoch: 'e1' })
    expect(held.pass('c', held.holders('workflow:w1')!.get('c')!, pub(1, 'e2'), frame)).toBe(true)
    held.sentUpTo('workflow:w1', 'c', { offset: 7, epoch: 'e1' })
    held.forget('workflow:w1', 'c')
    expect(held.holders('workflow:w1')).toBeUndefined()
    held.sentUpTo('workflow:w1', 'c', { offset: 7, epoch: 'e1' })
    held.hold('workflow:w1', 'c')
    expect(held.holders('workflow:w1')?.get('c')?.kind).toBe('held')
    held.forget('workflow:w1', 'c')
    expect(held.release('workflow:w1', 'c')).toBeUndefined()
  })
})
