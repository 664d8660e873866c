import { afterEach, describe, expect, it } from 'vitest'
import { RoomcastClient, type Subscribed } from '../../src/client/index.js'
import { TestRedis } from '../helpers/redis.js'
import { freePort } from '../helpers/supervisor.js'
import { startService, type Started } from '../helpers/server.js'

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

describe('roomcast/client recovery across a service restart (docs/client.md, docs/protocol.md A.8)', () => {
  it('recovers every event published while its service was down: 0 lost, 0 duplicated', async () => {
    const redis = await TestRedis.start()
    cleanup.push(() => redis.kill())
    const settings = { redis: { url: redis.url, prefix: `client-${redis.port}:` }, history: [{ channel: 'workflow:{id}', size: 500, ttl: 300 }] }
    const start = async (port = 0): Promise<Started> => {
      const s = await startService('workflow', { ...settings, port })
      cleanup.push(() => s.server.close())
      return s
    }
    // Restarted on its port below: a port outside the ephemeral range, which no client's source port takes meanwhile.
    const a = await start(await freePort())
    const b = await start()
    const c = new RoomcastClient({ url: a.url, dialect: 'envelope', backoff: { initial: 50, max: 400 } })
    cleanup.push(() => c.close())
    const ids: number[] = []
    c.on('workflow.stage_completed', (data) => ids.push(Number(data.stage_name)))
    await c.connect()
    expect(await c.subscribe('workflow:w1')).toMatchObject({ recovered: false, position: { offset: 0 } })
    const publish = (i: number) => b.server.publish('workflow:w1', 'workflow.stage_completed', { workflow_id: 'w1', stage_name: String(i) })
    for (let i = 1; i <= 20; i++) await publish(i)
    await expect.poll(() => ids.length).toBe(20)

    await a.server.close() // the client is told 1001 and starts backing off
    for (let i = 21; i <= 120; i++) await publish(i)
    const resubscribed = new Promise<Subscribed>((resolve) => c.onSubscribed(resolve))
    await start(a.port)
    expect(await resubscribed).toMatchObject({ channel: 'workflow:w1', recovered: true, resubscribe: true, position: { offset: 120 } })
    for (let i = 121; i <= 130; i++) await publish(i)
    await expect.poll(() => ids.length, { timeout: 20_000 }).toBeGreaterThanOrEqual(130)
    expect(ids).toEqual(Array.from({ length: 130 }, (_, i) => i + 1))
  })
})
