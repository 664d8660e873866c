import type { Broker } from '../broker/broker.js'
import type { HistoryChannels } from '../broker/history-channels.js'
import type { CompiledChannel } from '../protocol/channels.js'
import { AppError, ErrorCode } from '../protocol/codes.js'
import type { JsonObject } from '../protocol/messages.js'
import { matchChannelOrThrow } from './publication.js'

/** Most publications GET /channels/{channel}/history answers with. */
export const MAX_HISTORY_LIMIT = 100

/** What the history route reads: the channels, which keep history, and the broker's stream. */
export interface HistorySource {
  readonly channelSpecs: readonly CompiledChannel[]
  readonly history: HistoryChannels
  readonly broker: Pick<Broker, 'history'>
}

/** The `limit` query parameter: 1…MAX_HISTORY_LIMIT, 20 when absent. Throws INVALID_PARAMS. */
export function historyLimit(value: unknown): number {
  if (value === undefined) return 20
  const n = typeof value === 'string' && /^\d{1,4}$/.test(value) ? Number(value) : NaN
  if (!(n >= 1 && n <= MAX_HISTORY_LIMIT)) throw new AppError(ErrorCode.INVALID_PARAMS, `Query parameter 'limit' must be an integer from 1 to ${MAX_HISTORY_LIMIT}`)
  return n
}

/**
 * A history channel's latest `limit` publications, oldest first, with the stream's position
 * (docs/http.md, GET /channels/{channel}/history). Throws INVALID_CHANNEL for a channel of no
 * pattern, NOT_FOUND for a channel that keeps no history, BROKER_UNAVAILABLE when the store is away.
 */
export async function recentHistory(source: HistorySource, channel: unknown, limit: number): Promise<JsonObject> {
  const { channel: name } = matchChannelOrThrow(source.channelSpecs, channel)
  const opts = source.history.optionsOf(name)
  if (opts === null) throw new AppError(ErrorCode.NOT_FOUND, `Channel ${name} keeps no history (settings: history)`)
  const page = await source.broker.history(name, 0, opts)
  return {
    channel: name,
    offset: page.top.offset,
    epoch: page.top.epoch,
    publications: page.publications.slice(-limit).map((p) => ({ offset: p.position.offset, id: p.id, event: p.event, data: p.data, timestamp: p.timestamp })),
  }
}
