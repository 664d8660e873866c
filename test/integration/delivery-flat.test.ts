import { afterEach, describe, expect, it } from 'vitest'
import type { Frame } from '../helpers/client.js'
import { FlatClient } from '../helpers/flat.js'
import { deliveryStats, startTracked, type TrackedNode } from '../helpers/tracked-service.js'

const isTask = (f: Frame) => f.type === 'event' && f.event === 'task.created'

/** A flat client (agent `agent` when given), past its `connected` frame. */
const connect = (node: TrackedNode, agent?: string): Promise<FlatClient> => FlatClient.open(node.url, agent === undefined ? {} : { agent_id: agent })

describe('at-least-once delivery, flat dialect (docs/protocol.md A.8, B)', () => {
  let node: TrackedNode
  const clients: FlatClient[] = []
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()))
    await node?.server.close()
  })
  const start = (delivery: Record<string, unknown> = {}) =>
    startTracked({ delivery: { ack_timeout: 0.2, ...delivery } }, undefined, 'flat').then((n) => (node = n))

  it('re-sends an unacknowledged msg_ event max_attempts times with its id, then counts it failed', async () => {
    await start()
    const c = await connect(node)
    clients.push(c)
    const { pub } = await node.server.publish('global', 'task.created', { task_id: 't1' })
    expect(pub.id).toMatch(/^msg_/)
    const copies = [await c.next(isTask), await c.next(isTask), await c.next(isTask)]
    await node.logs.waitFor('tracked delivery failed')
    await c.pingFlat()
    expect(c.pending.filter(isTask)).toEqual([])
    expect(copies.map((f) => f.id)).toEqual([pub.id, pub.id, pub.id])
    expect(copies[0]).toMatchObject({ channel: 'global', event: 'task.created', data: { task_id: 't1' } })
    expect(await deliveryStats(node)).toMatchObject({ pending: 0, failed: 1, resent: 2 })
  })

  it('stops at {"type":"ack","message_id":id}: one copy, nothing pending', async () => {
    await start()
    const c = await connect(node)
    clients.push(c)
    const first = (await node.server.publish('global', 'task.created', { n: 1 })).pub
    c.send({ type: 'ack', message_id: (await c.next(isTask)).id })
    await c.pingFlat()
    expect(await deliveryStats(node)).toMatchObject({ pending: 0, acked: 1 })
    // A later unacknowledged event gets all its copies: time enough for any retry of the first.
    await node.server.publish('global', 'task.created', { n: 2 })
    for (let i = 0; i < 3; i++) expect((await c.next(isTask)).data).toEqual({ n: 2 })
    await node.logs.waitFor('tracked delivery failed')
    await c.pingFlat()
    expect(c.raw.filter((r) => r.includes(first.id))).toHaveLength(1)
  })

  it('stops at {"type":"ack","message_ids":[…]} for every id it names', async () => {
    await start({ ack_timeout: 5 })
    const c = await connect(node)
    clients.push(c)
    const ids: string[] = []
    for (let n = 0; n < 3; n++) {
      await node.server.publish('global', 'task.created', { n })
      ids.push(String((await c.next(isTask)).id))
    }
    c.ws.send(`{"type":"ack","message_ids":["${ids.join('","')}"]}`)
    await c.pingFlat()
    expect(await deliveryStats(node)).toMatchObject({ pending: 0, acked: 3, unknown_acks: 0 })
  })

  it('gives an agent its pending events on the connection it reconnects with', async () => {
    await start({ ack_timeout: 2 })
    const old = await connect(node, 'agent-7')
    const { pub } = await node.server.publish('agents/agent-7', 'task.created', { task_id: 't9' })
    expect((await old.next(isTask)).id).toBe(pub.id)
    await old.close()
    const fresh = await connect(node, 'agent-7')
    clients.push(fresh)
    const again = await fresh.next(isTask)
    expect(again).toMatchObject({ id: pub.id, channel: 'agents/agent-7', data: { task_id: 't9' } })
    fresh.send({ type: 'ack', message_id: again.id })
    await fresh.pingFlat()
    expect(await deliveryStats(node)).toMatchObject({ pending: 0, acked: 1, failed: 0 })
  })

  it('counts acks for unknown, foreign or malformed ids without answering them', async () => {
    await start({ ack_timeout: 5 })
    const [a, b] = [await connect(node, 'a'), await connect(node, 'b')]
    clients.push(a, b)
    const { pub } = await node.server.publish('agents/a', 'task.created', {})
    await a.next(isTask)
    b.send({ type: 'ack', message_id: pub.id }) // a's event, not b's
    b.send({ type: 'ack', message_id: 'msg_nope' })
    b.send({ type: 'ack', message_id: 42 })
    await b.pingFlat()
    expect(b.pending.filter((f) => f.code !== undefined)).toEqual([])
    expect(await deliveryStats(node)).toMatchObject({ pending: 1, unknown_acks: 3 })
  })
})
