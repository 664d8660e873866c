import { once } from 'node:events'
import type { Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { TestClient } from '../helpers/client.js'
import { startService, type Started } from '../helpers/server.js'

describe('a live connection does not hold its upgrade request', () => {
  let s: Started
  afterEach(async () => s?.server.close())

  it('detaches the upgrade response and keeps only the server error listener', async () => {
    s = await startService('patterns')
    const c = await TestClient.connect(s.url)
    const [conn] = [...s.server.connections()]
    const raw = (conn!.socket as unknown as { _socket: Socket & { _httpMessage?: unknown } })._socket
    expect(raw._httpMessage ?? null).toBeNull()
    expect(conn!.socket.listenerCount('error')).toBe(1)
    const sub = await c.subscribe('patterns:p')
    expect(sub.data).toEqual({ status: 'subscribed', channel: 'patterns:p' })
    await c.close()
  })

  it('still closes and cleans up a connection whose socket errors, and serves the next one', async () => {
    s = await startService('patterns')
    const bad = await TestClient.connect(s.url)
    await bad.subscribe('patterns:p')
    // A frame with a reserved opcode (0x3) makes the server's ws emit an error and close 1002.
    ;(bad.ws as unknown as { _socket: Socket })._socket.write(Buffer.from([0x83, 0x80, 0, 0, 0, 0]))
    const { code } = await bad.closed
    expect(code).toBe(1002)
    if (s.server.connectionCount > 0) await once(conn0(s), 'close')
    expect(s.server.connectionCount).toBe(0)
    expect(s.server.roomCount).toBe(0)
    const good = await TestClient.connect(s.url)
    expect((await good.subscribe('patterns:p')).data).toEqual({ status: 'subscribed', channel: 'patterns:p' })
    await good.close()
  })
})

function conn0(s: Started) {
  return [...s.server.connections()][0]!.socket
}
