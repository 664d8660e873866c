import { afterEach, describe, expect, inject, it } from 'vitest'
import { SERVICES } from '../../services/index.js'
import { MemoryBroker } from '../../src/broker/memory-broker.js'
import { parseSettings } from '../../src/config/settings.js'
import { TestClient } from '../helpers/client.js'
import { startService, type Started } from '../helpers/server.js'

// Runs in both projects: `memory` (one process) and `redis` (every server's broker on Redis).
const expectedBroker = inject('redisUrl') ? { kind: 'redis', state: 'connected', instances: 1 } : { kind: 'memory', state: 'standalone', instances: 1 }

describe('the broker as a user sees it', () => {
  let s: Started
  afterEach(async () => s?.server.close())

  it('is named with its state in /health and /stats (their `bridge` field)', async () => {
    s = await startService('workflow')
    const health = (await (await fetch(`${s.http}/health`)).json()) as { status: string; bridge: object }
    expect(health.status).toBe('healthy')
    expect(health.bridge).toMatchObject(expectedBroker)
    const stats = (await (await fetch(`${s.http}/stats`)).json()) as { bridge: object }
    expect(stats.bridge).toMatchObject({ ...expectedBroker, malformed: 0, dropped: 0 })
  })

  it('is the one ServerOptions.broker names (the 0.1 `bridge` option and aliases are gone)', () => {
    const settings = parseSettings({ log_level: 'silent' })
    const broker = new MemoryBroker()
    const server = SERVICES.workflow!.create(settings, { broker })
    expect(server.broker).toBe(broker)
    expect('bridge' in server).toBe(false)
  })

  it('answers POST /send for a local connection, and 404 for one no instance holds', async () => {
    s = await startService('workflow')
    const c = await TestClient.connect(s.url)
    const id = [...s.server.connections()][0]!.id
    const send = (connection_id: string) =>
      fetch(`${s.http}/send`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ connection_id, event: 'notice', data: { n: 1 } }),
      })
    const ok = await send(id)
    expect(ok.status).toBe(200)
    expect(await ok.json()).toEqual({ delivered: true, forwarded: false })
    expect(await c.next((f) => f.event === 'notice')).toMatchObject({ type: 'event', data: { n: 1 } })
    const missing = await send('no-such-connection')
    expect(missing.status).toBe(404)
    expect(await missing.json()).toEqual({ error: 'No connection no-such-connection', code: 'NOT_FOUND' })
    const bad = await send('')
    expect(bad.status).toBe(400)
    await c.close()
  })
})
