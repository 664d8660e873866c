import { describe, expect, it } from 'vitest'
import { DeliveryMessageSchema, MAX_HANDOVER_ENTRIES } from '../../src/broker/handover-messages.js'
import { handoverMessages } from '../../src/delivery/delivery-messages.js'
import { DeliverySettingsSchema, eventMatcher } from '../../src/delivery/delivery-settings.js'
import { frameText } from '../../src/delivery/frame-text.js'
import { textFrame } from '../../src/server/frame.js'

describe('delivery settings', () => {
  it('tracks nothing by default, 3 attempts 5 s apart, bounded, durable in Redis when there is one', () => {
    expect(DeliverySettingsSchema.parse(undefined)).toEqual({
      tracked: [],
      durable: 'auto',
      max_attempts: 3,
      ack_timeout: 5,
      max_pending_per_connection: 1000,
      max_pending: 100_000,
      max_pending_bytes: 64 * 1024 * 1024,
    })
  })

  it('rejects typos and bad values', () => {
    for (const bad of [{ trackd: [] }, { tracked: ['task created'] }, { max_attempts: 0 }, { ack_timeout: -1 }, { tracked: 'task.*' }]) {
      expect(DeliverySettingsSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false)
    }
  })

  it('matches event names by pattern, * spanning any characters', () => {
    const tracked = eventMatcher(['task.*', 'subtask.*', 'message.new'])
    expect(['task.created', 'subtask.running', 'message.new', 'task.a.b'].every(tracked)).toBe(true)
    expect(['taskXcreated', 'message.read', 'agent.connected', 'task'].some(tracked)).toBe(false)
    expect(eventMatcher([])('task.created')).toBe(false)
    expect(eventMatcher(['*'])('anything')).toBe(true)
  })
})

describe('frame text', () => {
  it('is the inverse of textFrame for every header size', () => {
    for (const n of [0, 125, 126, 65535, 65536, 70000]) {
      const text = 'x'.repeat(n)
      expect(frameText(textFrame(text))).toBe(text)
    }
    expect(frameText(textFrame('{"é":"ü"}'))).toBe('{"é":"ü"}')
  })
})

describe('delivery cluster messages', () => {
  const entry = (i: number, size = 10) => ({ id: `msg_${i}`, event: 'task.created', text: 'x'.repeat(size), attempts: 1 })

  it('hands over in bounded chunks', () => {
    const msgs = handoverMessages('i2', 'agent-1', Array.from({ length: 250 }, (_, i) => entry(i)))
    expect(msgs.map((m) => (m.kind === 'handover' ? m.entries.length : 0))).toEqual([MAX_HANDOVER_ENTRIES, MAX_HANDOVER_ENTRIES, 50])
    const big = handoverMessages('i2', 'agent-1', [entry(1, 700_000), entry(2, 700_000)])
    expect(big).toHaveLength(2)
    for (const m of [...msgs, ...big]) expect(DeliveryMessageSchema.safeParse(m).success).toBe(true)
  })

  it('rejects what is not a claim or a well-formed handover', () => {
    for (const bad of [
      {},
      { kind: 'claim' },
      { kind: 'claim', recipient: '' },
      { kind: 'handover', to: 'i2', recipient: 'a', entries: [] },
      { kind: 'handover', to: 'i2', recipient: 'a', entries: [{ ...entry(1), attempts: 0 }] },
      { kind: 'handover', recipient: 'a', entries: [entry(1)] },
    ]) {
      expect(DeliveryMessageSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false)
    }
  })
})
