import WebSocket from 'ws'
import { afterEach, describe, expect, it } from 'vitest'
import { RoomcastClient, type RoomcastError, type Subscribed } from '../../src/client/index.js'
import type { SocketLike } from '../../src/client/socket.js'
import { startService } from '../helpers/server.js'

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

// Found by the chaos run with 1,000 clients (issue 24): a connection lost while the client was
// re-subscribing after a reconnect, or a re-subscribe that timed out, made it forget the channel
// for good (CLOSED or TIMEOUT reported once);
// every later reconnect came back without it, and its events stopped, with no gap to notice.
describe('roomcast/client when the connection drops during the re-subscribe after a reconnect', () => {
  it.each([
    ['dies (CLOSED)', 'close'],
    ['swallows the re-subscribe (TIMEOUT, then the connection goes)', 'swallow'],
  ])('the connection %s: it subscribes again on the next connection and receives the channel’s events', async (_what, mode) => {
    const s = await startService('workflow')
    cleanup.push(() => s.server.close())
    const sockets: WebSocket[] = []
    const client = new RoomcastClient({
      url: s.url,
      dialect: 'envelope',
      requestTimeout: 1000,
      backoff: { initial: 10, max: 50, factor: 2 },
      socket: (url) => {
        const ws = new WebSocket(url)
        const n = sockets.push(ws)
        if (n === 2) {
          // The second connection dies, or swallows the frame, as the client re-subscribes on it: no answer comes.
          const send = ws.send.bind(ws)
          ws.send = ((data: string) => {
            if (!data.includes('subscribe')) send(data)
            else if (mode === 'close') ws.terminate()
            // Swallowed: the re-subscribe times out (requestTimeout 1000 ms), then the connection
            // goes (a timer set after the client's own fires after it).
            else setTimeout(() => ws.terminate(), 1500)
          }) as typeof ws.send
        }
        return ws as unknown as SocketLike
      },
    })
    cleanup.push(() => client.close())
    const errors: RoomcastError[] = []
    client.onError((e) => errors.push(e))
    const subscribed: Subscribed[] = []
    client.onSubscribed((x) => subscribed.push(x))
    const got: string[] = []
    client.on('workflow.started', (data) => got.push(String(data.workflow_id)))
    await client.connect()
    await client.subscribe('workflow:w1')
    await s.server.publish('workflow:w1', 'workflow.started', { workflow_id: 'before' })
    await expect.poll(() => got).toEqual(['before'])

    sockets[0]?.terminate() // reconnect → re-subscribe on socket 2, which dies → socket 3
    await expect.poll(() => sockets.length, { timeout: 10_000 }).toBe(3)
    await expect.poll(() => subscribed.filter((x) => x.resubscribe).length, { timeout: 10_000 }).toBe(1)
    await s.server.publish('workflow:w1', 'workflow.started', { workflow_id: 'after' })
    await expect.poll(() => got, { timeout: 10_000 }).toEqual(['before', 'after'])
    // The lost connection is no error of the subscription: it is re-subscribed, as after any loss.
    expect(errors.map((e) => e.code)).toEqual([])
  })
})
