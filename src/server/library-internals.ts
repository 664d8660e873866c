import { type IncomingMessage, ServerResponse } from 'node:http'
import { Socket } from 'node:net'
import type { WebSocket } from 'ws'

/**
 * The private internals of node's http, ws and @fastify/websocket that roomcast uses on purpose,
 * all in this file. test/unit/library-internals.test.ts fails when an upgrade of one of them
 * changes what is relied on here; nothing else in src/ reaches past a library's public API.
 */

type ErrorListener = (err: Error) => void

/** @fastify/websocket keeps the upgraded socket and the upgrade head on the request under these symbols. */
export const FASTIFY_WEBSOCKET_REQUEST_SYMBOLS: readonly string[] = ['ws-socket', 'ws-head']

/**
 * ws keeps the TCP socket under a WebSocket as `_socket`. roomcast writes frames it framed once
 * itself straight to it (Connection.sendFramed, only while the WebSocket is open) and corks it
 * per loop turn (write-coalescer.ts). ws's sender queues frames of its own only while
 * compressing (permessage-deflate is off) or reading a Blob, so the order with ws.send holds.
 */
export function tcpSocketOf(ws: WebSocket): Socket | undefined {
  const socket: unknown = Reflect.get(ws, '_socket')
  return socket instanceof Socket ? socket : undefined
}

/**
 * Lets go of what the HTTP upgrade left attached to a live connection, so it is collected
 * instead of living as long as the socket (a few KB per idle connection): node's http server
 * keeps the ServerResponse (which holds the request) on the TCP socket as `_httpMessage`;
 * @fastify/websocket keeps the socket and the upgrade head on the request and listens for socket
 * errors with a closure over the fastify request and reply. `keep` is the caller's own error
 * listener, which stays.
 */
export function releaseUpgrade(socket: WebSocket, req: IncomingMessage, keep: ErrorListener): void {
  const raw: unknown = req.socket
  const res: unknown = raw instanceof Socket ? Reflect.get(raw, '_httpMessage') : undefined
  if (raw instanceof Socket && res instanceof ServerResponse) res.detachSocket(raw)
  for (const key of Object.getOwnPropertySymbols(req)) {
    if (key.description !== undefined && FASTIFY_WEBSOCKET_REQUEST_SYMBOLS.includes(key.description)) Reflect.deleteProperty(req, key)
  }
  for (const listener of socket.listeners('error')) {
    if (listener !== keep) socket.off('error', listener as ErrorListener)
  }
}
