import type { z } from 'zod'
import { AppError, ErrorCode } from '../protocol/codes.js'
import type { JsonObject } from '../protocol/messages.js'
import type { Connection } from './connection.js'

/** What a request handler sees besides its validated parameters. */
export interface RequestContext {
  readonly connection: Connection
  readonly correlationId: string | null
  /**
   * Runs `fn` once this request's answer has gone out. Answers leave in request order, so an
   * answer may wait behind an earlier request's: what must follow the answer on the wire (a
   * history replay) waits for it here. Absent when the handler is called outside a connection's request.
   */
  readonly afterAnswer?: (fn: () => void) => void
}

export type RequestHandler<P> = (params: P, ctx: RequestContext) => JsonObject | Promise<JsonObject>

interface Entry {
  readonly schema: z.ZodType
  readonly handler: RequestHandler<unknown>
}

/** Formats the first zod issue as a message naming the field. */
export function describeIssue(error: z.ZodError, what = 'parameter'): string {
  const issue = error.issues[0]
  if (issue === undefined) return `Invalid ${what}`
  const field = issue.path.length > 0 ? issue.path.map(String).join('.') : null
  return field === null ? `Invalid ${what}s: ${issue.message}` : `Invalid ${what} '${field}': ${issue.message}`
}

/** operation → zod schema → handler. Subclasses fill it in their constructor. */
export class RequestRegistry {
  readonly #entries = new Map<string, Entry>()

  /** Registers (or replaces) the handler of `op`; `params` is validated by `schema` first. */
  register<S extends z.ZodType>(op: string, schema: S, handler: RequestHandler<z.output<S>>): this {
    this.#entries.set(op, { schema, handler: handler as RequestHandler<unknown> })
    return this
  }

  has(op: string): boolean {
    return this.#entries.has(op)
  }

  operations(): string[] {
    return [...this.#entries.keys()]
  }

  /**
   * Validates and runs `op`. Throws AppError UNKNOWN_REQUEST / INVALID_PARAMS, or what the handler
   * throws. The session keeps answers in request order (session/answer.ts, OrderedAnswers).
   */
  run(op: string | null, data: JsonObject, ctx: RequestContext): JsonObject | Promise<JsonObject> {
    const entry = op === null ? undefined : this.#entries.get(op)
    if (entry === undefined) throw new AppError(ErrorCode.UNKNOWN_REQUEST, `Unknown request event: ${op}`)
    const parsed = entry.schema.safeParse(data)
    if (!parsed.success) throw new AppError(ErrorCode.INVALID_PARAMS, describeIssue(parsed.error))
    return entry.handler(parsed.data, ctx)
  }
}
