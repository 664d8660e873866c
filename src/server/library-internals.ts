import { Socket } from 'node:net'
import type { WebSocket } from 'ws'

/**
 * The private internals of ws that roomcast uses on purpose,
 * all in this file. test/unit/library-internals.test.ts fails when an upgrade of one of them
 * changes what is relied on here; nothing else in src/ reaches past a library's public API.
 */

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
