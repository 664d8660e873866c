import { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
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

/** ws's reading of a socket: the `data` listener it attached in the handshake. */
export type DataListener = (this: Duplex, chunk: Buffer) => void

/**
 * ws reads a WebSocket's TCP socket through the one `data` listener it attaches in the handshake
 * (before the upgrade callback runs), and stops reading with removeListener('data', that
 * listener) once a close frame or a protocol error arrives. The inbound gate (inbound-turns.ts)
 * takes that listener's place: `replacement` is attached marked as its wrapper (the `listener`
 * property, as `once` marks its own), so ws's removeListener removes the replacement. Returns
 * ws's listener, for the replacement to call, or null (nothing replaced) when there is not
 * exactly one. `listeners` is the socket's `data` listeners when the caller has read them already.
 */
export function takeDataListener(
  socket: Duplex,
  replacement: (chunk: Buffer) => void,
  listeners: readonly DataListener[] = socket.listeners('data') as DataListener[],
): DataListener | null {
  if (listeners.length !== 1) return null
  const original = listeners[0] as DataListener
  socket.removeListener('data', original)
  // A replacement shared by many sockets (one per ws listener) is marked once.
  const marked = replacement as ((chunk: Buffer) => void) & { listener?: DataListener }
  if (marked.listener !== original) marked.listener = original
  socket.on('data', marked)
  return original
}
