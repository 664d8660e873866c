import type { WebSocket } from 'ws'
import { afterEach, describe, expect, it } from 'vitest'
import { RoomcastClient, type Subscribed } from '../../src/client/index.js'
import { connected, FakeServer } from './fake-server.js'

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

const channel = 'topics/t'
const event = (offset: number, epoch = 'e1') =>
  JSON.stringify({ type: 'event', id: `msg_${epoch}_${offset}`, channel, event: 'message.new', data: { n: offset }, timestamp: 1, offset, epoch })
const subscribed = (id: unknown, fields: Record<string, unknown>) => JSON.stringify({ type: 'ack', id, success: true, channel, ...fields, timestamp: 1 })

/**
 * A server whose link to its broker blinked: a live subscriber misses offsets 3 and 4 and then
 * sees 5. `answer(since)` scripts the answer to the client's second subscribe.
 */
async function blinkingServer(answer: (ws: WebSocket, id: unknown, since: unknown) => void): Promise<FakeServer> {
  const fake = await FakeServer.start((ws) => {
    ws.send(connected())
    let subscribes = 0
    ws.on('message', (raw) => {
      const msg = JSON.parse(String(raw)) as Record<string, unknown>
      if (msg.type !== 'subscribe') return
      if (++subscribes === 1) {
        ws.send(subscribed(msg.id, { offset: 0, epoch: 'e1' }))
        for (const offset of [1, 2, 5]) ws.send(event(offset))
      } else answer(ws, msg.id, msg.since)
    })
  })
  cleanup.push(() => fake.close())
  return fake
}

async function subscriber(fake: FakeServer): Promise<{ seen: number[]; subscribes: Subscribed[] }> {
  const c = new RoomcastClient({ url: fake.url, dialect: 'flat', ackEvents: [] })
  cleanup.push(() => c.close())
  const seen: number[] = []
  const subscribes: Subscribed[] = []
  c.on('message.new', (data) => seen.push(Number(data.n)))
  c.onSubscribed((s) => subscribes.push(s))
  await c.connect()
  await c.subscribe(channel)
  return { seen, subscribes }
}

describe('roomcast/client repairs a gap in a history stream (docs/client.md)', () => {
  it('an offset jump on a live subscription → subscribes again with since its last offset; the replay fills the gap, in order, once', async () => {
    const fake = await blinkingServer((ws, id, since) => {
      expect(since).toEqual({ offset: 2, epoch: 'e1' })
      ws.send(subscribed(id, { recovered: true, offset: 5, epoch: 'e1' }))
      for (const offset of [3, 4, 5, 6]) ws.send(event(offset))
    })
    const { seen, subscribes } = await subscriber(fake)
    await expect.poll(() => seen).toEqual([1, 2, 3, 4, 5, 6])
    expect(subscribes.map((s) => [s.recovered, s.resubscribe])).toEqual([
      [false, false],
      [true, true],
    ])
    expect(fake.received.filter((f) => f.type === 'subscribe')).toHaveLength(2)
  })

  it('a gap the server cannot fill → onSubscribed says recovered: false and the stream goes on from the new top', async () => {
    const fake = await blinkingServer((ws, id) => {
      ws.send(subscribed(id, { recovered: false, offset: 9, epoch: 'e2' }))
      ws.send(event(10, 'e2'))
    })
    const { seen, subscribes } = await subscriber(fake)
    await expect.poll(() => seen).toEqual([1, 2, 10])
    expect(subscribes.at(-1)).toMatchObject({ recovered: false, resubscribe: true, position: { offset: 9, epoch: 'e2' } })
  })
})
