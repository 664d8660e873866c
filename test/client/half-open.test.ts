import { afterEach, describe, expect, it } from 'vitest'
import { FaultProxy } from '../../bench/chaos/proxy.mjs'
import { RoomcastClient, RoomcastError, type ClientState } from '../../src/client/index.js'
import { startService } from '../helpers/server.js'

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

// Found by the chaos run (issue 24): a publisher whose connection stopped delivering the server's
// frames (half-open through a middlebox) kept sending, so the server heard it and never pinged it;
// every request timed out, for minutes, and the client never reconnected.
describe('roomcast/client on a connection whose server → client path is dead', () => {
  it('a request that times out with nothing received since drops the connection and reconnects; requests work again', async () => {
    const s = await startService('workflow', { allow_client_publish: true })
    cleanup.push(() => s.server.close())
    const proxy = new FaultProxy({ port: s.server.port })
    await proxy.listen()
    cleanup.push(() => proxy.close())
    const client = new RoomcastClient({ url: `ws://127.0.0.1:${proxy.port}/ws`, dialect: 'envelope', requestTimeout: 1000, backoff: { initial: 10, max: 50, factor: 2 } })
    cleanup.push(() => client.close())
    const states: ClientState[] = []
    client.onState((st) => states.push(st))
    await client.connect()
    expect(proxy.halfOpen('down')).toBe(1)
    const err = await client.publish('workflow:w1', 'workflow.started', { workflow_id: 'w1' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RoomcastError)
    expect((err as RoomcastError).code).toBe('TIMEOUT')
    await expect.poll(() => states.filter((st) => st === 'open').length, { timeout: 10_000 }).toBe(2)
    expect(proxy.accepted).toBe(2)
    expect(await client.publish('workflow:w1', 'workflow.started', { workflow_id: 'w1' })).toMatchObject({ status: 'published' })
  })
})
