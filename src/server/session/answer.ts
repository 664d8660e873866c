import { AppError, ErrorCode } from '../../protocol/codes.js'
import type { JsonObject, ReplyTo } from '../../protocol/messages.js'
import type { Connection } from '../connection.js'
import type { SessionHost } from './host.js'

/** Where answers go: the session's counted sends. */
export interface AnswerSink {
  readonly conn: Connection
  send(type: string, frame: string): void
  sendError(code: ErrorCode, message: string, reply: ReplyTo | null): void
}

/**
 * The destinations of one answer. docs/protocol.md A.4: an envelope request carrying an `id` and
 * a different `correlation_id` is answered under its correlation_id, then once more under its
 * id — the Python mcp_common WebSocketClient sends a fresh correlation_id but matches answers on
 * the request id, while other clients match on correlation_id, and one frame cannot carry both.
 * The dialect's decoder sets `requestId` only in that case.
 */
export function destinations(reply: ReplyTo): ReplyTo[] {
  return reply.requestId === undefined ? [reply] : [reply, { ...reply, correlationId: reply.requestId }]
}

/** Runs a request of the registry and answers it: a response, or an error frame for every kind of failure; never throws. */
export function runRequest(sink: AnswerSink, host: SessionHost, op: string | null, data: JsonObject, reply: ReplyTo): void {
  answerWith(sink, host, op, reply, () => host.requests.run(op, data, { connection: sink.conn, correlationId: reply.correlationId }))
}

/**
 * Runs `handler` and answers `op` with its result, or with an error frame for every kind of
 * failure; then `failed` (if given) sees the failure, after its error frames. Never throws.
 */
export function answerWith(
  sink: AnswerSink,
  host: SessionHost,
  op: string | null,
  reply: ReplyTo,
  handler: () => JsonObject | Promise<JsonObject>,
  failed?: (err: unknown) => void,
): void {
  const fail = (err: unknown) => {
    if (!(err instanceof AppError)) host.log.error({ err, op, connection: sink.conn.id }, 'request handler failed')
    const [code, message] = err instanceof AppError ? [err.code, err.message] : [ErrorCode.SERVER_ERROR, 'Internal server error']
    for (const to of destinations(reply)) sink.sendError(code, message, to)
    failed?.(err)
  }
  const answer = (result: JsonObject) => {
    const frames: string[] = []
    try {
      // A result JSON cannot represent (BigInt, a cycle) is the handler's bug, not the client's.
      for (const to of destinations(reply)) frames.push(host.dialect.codec.encodeResponse(op as string, result, to))
    } catch (err) {
      return fail(err)
    }
    for (const frame of frames) sink.send('response', frame)
  }
  let result: JsonObject | Promise<JsonObject>
  try {
    result = handler()
  } catch (err) {
    return fail(err)
  }
  if (result instanceof Promise) result.then(answer, fail)
  else answer(result)
}
