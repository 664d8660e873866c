import { once } from 'node:events'
import { Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'
import { tcpSocketOf } from '../../src/server/library-internals.js'
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
})
