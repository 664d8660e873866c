import { afterEach, describe, expect, it } from 'vitest'
import { RoomcastClient } from '../../src/client/index.js'
import { deliveryStats, startTracked, type TrackedNode } from '../helpers/tracked-service.js'

let node: TrackedNode | undefined
let client: RoomcastClient | undefined
afterEach(async () => {
  client?.close()
  await node?.server.close()
})

describe('roomcast/client acknowledges tracked events (docs/protocol.md A.8)', () => {
  for (const dialect of ['envelope', 'flat'] as const) {
    it(`${dialect}: every tracked delivery is acked, so the server holds none pending and fails none`, async () => {
      node = await startTracked({ delivery: { ack_timeout: 0.3 } }, undefined, dialect)
      client = new RoomcastClient({ url: node.url, dialect, ackEvents: ['task.*'] })
      const got: string[] = []
      client.on('task.created', (data) => got.push(String(data.n)))
      await client.connect()
      const channel = dialect === 'flat' ? 'topics/t' : 'tasks:t'
      await client.subscribe(channel)
      for (let n = 0; n < 20; n++) await node.server.publish(channel, 'task.created', { n })
      await expect.poll(() => got.length).toBe(20)
      await expect.poll(async () => (await deliveryStats(node as TrackedNode)).acked, { timeout: 10_000 }).toBe(20)
      expect(await deliveryStats(node)).toMatchObject({ pending: 0, failed: 0 })
      expect(got).toEqual(Array.from({ length: 20 }, (_, n) => String(n)))
    })
  }

  it('acks the events one read brings in one frame (message_ids): fewer ack frames than events, every event settled', async () => {
    node = await startTracked({ delivery: { ack_timeout: 5 } })
    client = new RoomcastClient({ url: node.url, dialect: 'envelope', ackEvents: ['task.*'] })
    let got = 0
    client.on('task.created', () => got++)
    await client.connect()
    await client.subscribe('tasks:t')
    // Published in one turn: the server writes them together, the client reads them together.
    await Promise.all(Array.from({ length: 50 }, (_, n) => node!.server.publish('tasks:t', 'task.created', { n })))
    await expect.poll(() => got).toBe(50)
    await expect.poll(async () => (await deliveryStats(node as TrackedNode)).acked, { timeout: 10_000 }).toBe(50)
    const stats = (await (await fetch(`${node.http}/stats`)).json()) as { messages: { in_by_type: Record<string, number> } }
    expect(stats.messages.in_by_type.ack).toBeLessThan(25)
    expect(await deliveryStats(node)).toMatchObject({ pending: 0, unknown_acks: 0 })
  })
})
