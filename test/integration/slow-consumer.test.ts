import { afterEach, describe, expect, it } from 'vitest'
import { TestClient } from '../helpers/client.js'
import { RawWsClient } from '../helpers/raw-ws.js'
import { publishUntilSlowClose, startService, type Started } from '../helpers/server.js'

const CLOSE = 0x8

describe('a stalled client (docs/errors.md, 4008)', () => {
  let s: Started
  afterEach(async () => s?.server.close())

  it('is cut at the TCP level at once: the server lets it go without waiting, and the client finds no close frame, only the end', async () => {
    s = await startService('workflow', { max_buffered_bytes: 64 * 1024 })
    const fast = await TestClient.connect(s.url)
    await fast.subscribe('workflow:w')
    const raw = await RawWsClient.connect(s.port)
    await raw.next((f) => f.event === 'session.created')
    raw.sendText(JSON.stringify({ type: 'request', event: 'subscribe', data: { channel: 'workflow:w' }, correlation_id: 's1' }))
    expect((await raw.next((f) => f.correlation_id === 's1')).data).toMatchObject({ status: 'subscribed' })
    // The client stops reading: the kernel buffers fill, then the server's backlog grows.
    raw.socket.pause()
    const gone = new Promise<void>((resolve) => s.server.onDisconnect(() => resolve()))
    const published = await publishUntilSlowClose(s.server, 'workflow:w', 32 * 1024, () => fast.next())
    expect(s.server.statsSnapshot().slow_consumer_closes).toBe(1)
    // The server is done with it while the client still reads nothing: no close handshake awaited.
    await gone
    expect(s.server.connectionCount).toBe(1)

    raw.socket.resume()
    await raw.ended
    const events = raw.texts().filter((f) => f.event === 'workflow.started')
    expect(events.length).toBeGreaterThan(0)
    expect(events.length).toBeLessThan(published)
    expect(events.map((f) => (f.data as { workflow_id: string }).workflow_id)).toEqual(events.map((_, i) => `w${i}`))
    expect(raw.frames.filter((f) => f.opcode === CLOSE)).toEqual([])
    await fast.alive()
  })
})
