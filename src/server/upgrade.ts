import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { WebSocket } from 'ws'

type ErrorListener = (err: Error) => void

/**
 * Lets go of what the HTTP upgrade left attached to a live connection, so it is collected
 * instead of living as long as the socket (a few KB per idle connection): @fastify/websocket
 * assigns a ServerResponse (which holds the request) to the TCP socket, keeps the socket and
 * the upgrade head on the request, and listens for socket errors with a closure over the
 * fastify request and reply. `keep` is the caller's own error listener, which stays.
 */
export function releaseUpgrade(socket: WebSocket, req: IncomingMessage, keep: ErrorListener): void {
  const raw = req.socket as (Socket & { _httpMessage?: ServerResponse | null }) | undefined
  const res = raw?._httpMessage
  if (raw !== undefined && res !== null && res !== undefined) res.detachSocket(raw)
  const held = req as unknown as Record<symbol, unknown>
  for (const key of Object.getOwnPropertySymbols(req)) {
    if (key.description === 'ws-socket' || key.description === 'ws-head') delete held[key]
  }
  for (const listener of socket.listeners('error')) {
    if (listener !== keep) socket.off('error', listener as ErrorListener)
  }
}
