import { AppError, ErrorCode } from '../../protocol/codes.js'
import type { JsonObject, ReplyTo } from '../../protocol/messages.js'
import type { Connection } from '../connection.js'
import type { SessionHost } from './host.js'

/** Where answers go: the session's counted sends, in request order. */
export interface AnswerSink {
  readonly conn: Connection
  readonly answers: OrderedAnswers
  send(type: string, frame: string): void
  sendError(code: ErrorCode, message: string, reply: ReplyTo | null): void
}

/**
 * Keeps the answers to one connection's requests in request order (docs/protocol.md A.4): an
 * asynchronous handler (get_status with workers, a publish on Redis, a history subscribe)
 * reserves its place, and the answers of the requests after it wait there until it is filled.
 * While nothing is pending an answer goes out at once, as before. Only answers to requests
 * wait: events, pongs to `{"type":"ping"}` and errors of frames that are no request never do.
 */
export class OrderedAnswers {
  /** Places reserved and not yet sent, oldest first: a filled one holds its sends. */
  readonly #places: { send: (() => void) | null }[] = []

  /** Whether no answer is pending: the next one may go out at once. */
  get idle(): boolean {
    return this.#places.length === 0
  }

  /** Sends now when nothing is pending, else after every place reserved before. */
  now(send: () => void): void {
    if (this.#places.length === 0) send()
    else this.#places.push({ send })
  }

  /** Reserves the next place; the returned function fills it with its sends (once). */
  later(): (send: () => void) => void {
    const place: { send: (() => void) | null } = { send: null }
    this.#places.push(place)
    return (send) => {
      place.send = send
      this.#flush()
    }
  }

  #flush(): void {
    const places = this.#places
    while (places.length > 0 && places[0]!.send !== null) places.shift()!.send!()
  }
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
  let after: (() => void)[] | null = null
  const afterAnswer = (fn: () => void) => (after ??= []).push(fn)
  const ran = () => {
    if (after !== null) for (const fn of after) fn()
  }
  answerWith(sink, host, op, reply, () => host.requests.run(op, data, { connection: sink.conn, correlationId: reply.correlationId, afterAnswer }), undefined, ran)
}

/**
 * Runs `handler` and answers `op` with its result, or with an error frame for every kind of
 * failure; then `failed` (if given) sees the failure, after its error frames, and `sent` (if
 * given) runs once the answer, either one, has gone out. Answers leave in request order
 * (OrderedAnswers). Never throws.
 */
export function answerWith(
  sink: AnswerSink,
  host: SessionHost,
  op: string | null,
  reply: ReplyTo,
  handler: () => JsonObject | Promise<JsonObject>,
  failed?: (err: unknown) => void,
  sent?: () => void,
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
  const order = sink.answers
  let result: JsonObject | Promise<JsonObject>
  try {
    result = handler()
  } catch (err) {
    return order.now(() => {
      fail(err)
      sent?.()
    })
  }
  if (result instanceof Promise) {
    const fill = order.later()
    result.then(
      (value) =>
        fill(() => {
          answer(value)
          sent?.()
        }),
      (err: unknown) =>
        fill(() => {
          fail(err)
          sent?.()
        }),
    )
  } else if (order.idle) {
    answer(result)
    sent?.()
  } else {
    const value = result
    order.now(() => {
      answer(value)
      sent?.()
    })
  }
}
