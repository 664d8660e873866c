import { once } from 'node:events'
import type { IncomingMessage } from 'node:http'
import { Socket } from 'node:net'
import fastifyWebsocket from '@fastify/websocket'
import Fastify from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'
import { FASTIFY_WEBSOCKET_REQUEST_SYMBOLS, releaseUpgrade, tcpSocketOf } from '../../src/server/library-internals.js'
import { textFrame } from '../../src/server/frame.js'

/**
 * What src/server/library-internals.ts relies on in node, ws and @fastify/websocket, checked
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

describe('@fastify/websocket and node http internals', () => {
  it('the upgrade leaves _httpMessage on the socket, symbols on the request and an error listener; releaseUpgrade removes them', async () => {
    const app = Fastify()
    closers.push(() => app.close())
    await app.register(fastifyWebsocket, { options: { perMessageDeflate: false } })
    const seen: Record<string, unknown> = {}
    const ready = new Promise<void>((resolve) => {
      app.register(async (scope) => {
        scope.get('/', { websocket: true }, (socket: WebSocket, req: { raw: IncomingMessage }) => {
          const raw = req.raw
          const descriptions = Object.getOwnPropertySymbols(raw).map((k) => k.description)
          seen.symbolsBefore = FASTIFY_WEBSOCKET_REQUEST_SYMBOLS.filter((d) => descriptions.includes(d))
          seen.httpMessageBefore = Reflect.get(raw.socket, '_httpMessage')?.constructor?.name
          seen.errorListenersBefore = socket.listenerCount('error')
          const keep = () => {}
          socket.on('error', keep)
          releaseUpgrade(socket, raw, keep)
          const after = Object.getOwnPropertySymbols(raw).map((k) => k.description)
          seen.symbolsAfter = FASTIFY_WEBSOCKET_REQUEST_SYMBOLS.filter((d) => after.includes(d))
          seen.httpMessageAfter = Reflect.get(raw.socket, '_httpMessage') ?? null
          seen.errorListenersAfter = socket.listeners('error')
          seen.keep = keep
          seen.tcp = tcpSocketOf(socket) instanceof Socket
          resolve()
        })
      })
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const client = new WebSocket(`ws://127.0.0.1:${(app.server.address() as { port: number }).port}/`)
    closers.unshift(async () => client.terminate())
    await ready
    expect(seen.symbolsBefore).toEqual(FASTIFY_WEBSOCKET_REQUEST_SYMBOLS)
    expect(seen.httpMessageBefore).toBe('ServerResponse')
    expect(seen.errorListenersBefore).toBeGreaterThanOrEqual(1)
    expect(seen.symbolsAfter).toEqual([])
    expect(seen.httpMessageAfter).toBeNull()
    expect(seen.errorListenersAfter).toEqual([seen.keep])
    expect(seen.tcp).toBe(true)
  })
})
