import { afterEach, describe, expect, it } from 'vitest'
import type { Frame } from '../helpers/client.js'
import { FlatClient } from '../helpers/flat.js'
import { startServer, type Started } from '../helpers/server.js'
import { FlatTestServer } from '../fixtures/flat-service.js'

let s: Started<FlatTestServer>
const clients: FlatClient[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await s?.server.close()
})

const isNew = (f: Frame) => f.type === 'event' && f.event === 'message.new'

async function connect(): Promise<FlatClient> {
  const c = await FlatClient.open(s.url)
  clients.push(c)
  return c
}

describe('history and recovery in the flat dialect (docs/protocol.md B, A.8)', () => {
  it('puts offset and epoch on events and acks, and recovers a subscribe with since', async () => {
    s = await startServer((st, o) => new FlatTestServer(st, o), { allow_client_publish: true, history: [{ channel: 'topics/{topic}', size: 10 }] })
    const a = await connect()
    const first = await a.op({ type: 'subscribe', channel: 'topics/t1' })
    expect(first).toMatchObject({ success: true, recovered: false, offset: 0 })
    const epoch = first.epoch as string
    const published = await a.op({ type: 'publish', channel: 'topics/t1', event: 'message.new', data: { content: 'one' } })
    expect(published).toMatchObject({ success: true, offset: 1, epoch })
    const ev = await a.next(isNew)
    expect(ev).toMatchObject({ channel: 'topics/t1', data: { content: 'one' }, offset: 1, epoch })
    expect(Object.keys(ev).slice(-2)).toEqual(['offset', 'epoch'])
    for (const content of ['two', 'three']) await s.server.publish('topics/t1', 'message.new', { content })

    const b = await connect()
    expect(await b.op({ type: 'subscribe', channel: 'topics/t1', since: { offset: 1, epoch } })).toMatchObject({ success: true, recovered: true, offset: 3, epoch })
    expect([(await b.next(isNew)).data, (await b.next(isNew)).data]).toEqual([{ content: 'two' }, { content: 'three' }])
    expect(await b.op({ type: 'subscribe', channel: 'topics/t1', since: { offset: 1, epoch: 'gone' } })).toMatchObject({ success: true, recovered: false })
    expect(await b.op({ type: 'subscribe', channel: 'topics/t1', since: { offset: 'x', epoch } })).toMatchObject({ success: false, code: 'INVALID_PARAMS' })
  })
})
