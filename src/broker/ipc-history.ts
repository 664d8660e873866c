import { z } from 'zod'
import { AppError, ErrorCode } from '../protocol/codes.js'
import type { Publication } from '../protocol/messages.js'
import type { Appended, HistoryStore, OutgoingPublication } from './history-store.js'
import type { IpcLink } from './ipc-link.js'
import type { IpcAsk } from './ipc-messages.js'
import type { HistoryOptions, HistoryPage } from './position.js'

const PositionSchema = z.object({ offset: z.number().int().nonnegative(), epoch: z.string().min(1) })
const AppendedSchema = z.object({ position: PositionSchema, receivers: z.number().int().nonnegative() })
const PageSchema = z.object({
  top: PositionSchema,
  publications: z.array(z.looseObject({ id: z.string(), channel: z.string(), event: z.string(), data: z.record(z.string(), z.unknown()), timestamp: z.string(), position: PositionSchema })),
})

type AppendRequest = Extract<IpcAsk, { op: 'append' }>

/**
 * The history of a worker: the primary holds the one memory store of the service (ipc-hub.ts),
 * so every worker's publications of a channel take offsets from one sequence; the primary
 * stores and relays a publication in one step, like the Redis script does.
 */
export class IpcHistory implements HistoryStore {
  readonly kind = 'ipc'
  readonly #link: IpcLink

  constructor(link: IpcLink) {
    this.#link = link
  }

  async appendAndPublish(pub: Publication, opts: HistoryOptions, out: OutgoingPublication | null): Promise<Appended> {
    const channel = out?.channel ?? ''
    const answer = await this.#ask(() => this.#link.ask({ op: 'append', pub: pub as unknown as AppendRequest['pub'], opts, channel, head: out?.head ?? '' }))
    return parsed(AppendedSchema, answer)
  }

  async read(channel: string, after: number | null, opts: HistoryOptions): Promise<HistoryPage> {
    const answer = await this.#ask(() => this.#link.ask({ op: 'read', channel, after, opts }))
    return parsed(PageSchema, answer) as HistoryPage
  }

  open(): void {}

  close(): void {}

  async #ask(request: () => Promise<unknown>): Promise<unknown> {
    try {
      return await request()
    } catch (err) {
      throw new AppError(ErrorCode.BROKER_UNAVAILABLE, `History store unavailable (${(err as Error).message}): not accepted, retry later`, { cause: err })
    }
  }
}

function parsed<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value)
  if (!result.success) throw new AppError(ErrorCode.BROKER_UNAVAILABLE, 'History store unavailable (malformed answer from the primary): not accepted, retry later')
  return result.data
}
