import { AppError, ErrorCode } from '../protocol/codes.js'
import type { Inbound, JsonObject, ReplyTo } from '../protocol/messages.js'
import type { Connection } from './connection.js'
import type { WebSocketServer } from './websocket-server.js'

/**
 * The inbound path of one frame: rate limit → decode → auth phase or dispatch → request
 * registry → answer. Every failure becomes an error frame on the same connection, never a crash.
 */

/** Handles one raw frame from a connection. */
export function handleFrame(server: WebSocketServer, conn: Connection, raw: Buffer): void {
  const now = Date.now()
  conn.lastSeen = now
  if (conn.phase === 'closing') return
  const wait = conn.bucket.take(now)
  if (wait > 0) {
    server.stats.rateLimited++
    server.stats.countIn('rate_limited')
    server.sendError(conn, ErrorCode.RATE_LIMIT_EXCEEDED, `Message rate limit exceeded. Retry after ${wait.toFixed(3)} seconds.`, null)
    return
  }
  const msg = server.codec.decode(raw)
  if (conn.phase === 'auth') {
    server.stats.countIn(msg.kind === 'request' ? 'request' : msg.kind)
    server.authenticator.firstFrame(conn, msg)
    return
  }
  dispatchFrame(server, conn, msg)
}

/** Handles one decoded frame of an admitted connection. */
export function dispatchFrame(server: WebSocketServer, conn: Connection, msg: Inbound): void {
  switch (msg.kind) {
    case 'invalid':
      server.stats.countIn('invalid')
      server.sendError(conn, ErrorCode.DECODE_ERROR, msg.message, null)
      return
    case 'ping':
      server.stats.countIn('ping')
      server.sendFrame(conn, 'pong', server.codec.encodePong(msg))
      return
    case 'ack':
      server.stats.countIn('ack')
      // docs/protocol.md A.8: an ack naming no event pending for this connection (unknown, foreign,
      // already settled, or no string id at all) is counted, never answered: clients that ack
      // everything, as the Python ones may, must not get error frames for it.
      server.delivery.ack(conn, msg.messageId)
      return
    case 'ignored':
      server.stats.countIn('ignored')
      return
    case 'request':
      server.stats.countIn(msg.op !== null && server.requests.has(msg.op) ? msg.op : 'unknown_request')
      runRequest(server, conn, msg.op, msg.data, msg)
  }
}

/** Runs a request and answers it: a response, or an error frame for every kind of failure. */
export function runRequest(server: WebSocketServer, conn: Connection, op: string | null, data: JsonObject, reply: ReplyTo): void {
  const fail = (err: unknown) => {
    if (err instanceof AppError) return server.sendError(conn, err.code, err.message, reply)
    server.log.error({ err, op, connection: conn.id }, 'request handler failed')
    server.sendError(conn, ErrorCode.SERVER_ERROR, 'Internal server error', reply)
  }
  const answer = (result: JsonObject) => {
    let frame: string
    try {
      // A result JSON cannot represent (BigInt, a cycle) is the handler's bug, not the client's.
      frame = server.codec.encodeResponse(op as string, result, reply)
    } catch (err) {
      return fail(err)
    }
    server.sendFrame(conn, 'response', frame)
  }
  let result: JsonObject | Promise<JsonObject>
  try {
    result = server.requests.run(op, data, { connection: conn, correlationId: reply.correlationId })
  } catch (err) {
    return fail(err)
  }
  if (result instanceof Promise) result.then(answer, fail)
  else answer(result)
}
