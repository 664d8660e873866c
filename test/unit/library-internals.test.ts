import { once } from 'node:events'
import { createServer } from 'node:http'
import { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'
import { takeDataListener, tcpSocketOf } from '../../src/server/library-internals.js'
import { textFrame } from '../../src/server/frame.js'

/**
 * What src/server/library-internals.ts relies on in ws, checked
 * against the installed versions: an upgrade that changes one of them fails here first.
 */
const closers: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

function messages(ws: WebSocket, n: number): Promise<{ text: string; binary: boolean }[]> {
  const got: { text: string; binary: boolean }[] = []
  return new Promise((resolve) => {
    ws.on('message', (data, binary) => {
      got.push({ text: data.toString(), binary })
      if (got.length === n) resolve(got)
    })
  })
}

describe('ws internals', () => {
  it('a WebSocket keeps its TCP socket as _socket, and bytes framed by us go out in order with ws.send', async () => {
    const wss = new WebSocketServer({ port: 0, perMessageDeflate: false })
    closers.push(() => new Promise((r) => wss.close(r)))
    await once(wss, 'listening')
    const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`)
    closers.push(async () => client.close())
    const [server] = (await once(wss, 'connection')) as [WebSocket]
    await once(client, 'open')
    const tcp = tcpSocketOf(server)
    expect(tcp).toBeInstanceOf(Socket)
    const got = messages(client, 3)
    server.send('one')
    tcp!.write(textFrame('two'))
    server.send('three')
    expect(await got).toEqual([
      { text: 'one', binary: false },
      { text: 'two', binary: false },
      { text: 'three', binary: false },
    ])
  })

  it('ws reads the socket through one data listener, attached before the upgrade callback, and removes it when a close frame arrives', async () => {
    const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false })
    const http = createServer()
    closers.push(() => new Promise((r) => http.close(r)))
    const seen: number[] = []
    const accepted = new Promise<{ ws: WebSocket; socket: Duplex; replacement: (chunk: Buffer) => void }>((resolve) => {
      http.on('upgrade', (req, socket, head) =>
        wss.handleUpgrade(req, socket, head, (ws) => {
          let original: ((this: Duplex, chunk: Buffer) => void) | null = null
          const replacement = (chunk: Buffer) => {
            seen.push(chunk.length)
            original?.call(socket, chunk)
          }
          original = takeDataListener(socket, replacement)
          expect(original).not.toBeNull()
          resolve({ ws, socket, replacement })
        }),
      )
    })
    http.listen(0, '127.0.0.1')
    await once(http, 'listening')
    const client = new WebSocket(`ws://127.0.0.1:${(http.address() as { port: number }).port}`)
    const { ws, socket, replacement } = await accepted
    await once(client, 'open')
    const got = once(ws, 'message')
    client.send('through the replacement')
    expect(String((await got)[0])).toBe('through the replacement')
    expect(seen.length).toBeGreaterThan(0)
    expect(socket.rawListeners('data')).toEqual([replacement])
    client.close()
    await once(ws, 'close')
    expect(socket.rawListeners('data')).toEqual([])
  })
})
