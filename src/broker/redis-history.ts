import type { Redis } from 'ioredis'
import { z } from 'zod'
import type { Publication } from '../protocol/messages.js'
import type { HistoryOptions, HistoryPage, PositionedPublication, StreamPosition } from './position.js'
import { APPEND_AND_PUBLISH, READ_STREAM } from './redis-scripts.js'

/** The two keys of one channel's stream (see redis-scripts.ts). */
export interface StreamKeys {
  readonly meta: string
  readonly stream: string
}

const StoredPublicationSchema = z.object({
  id: z.string().min(1),
  channel: z.string().min(1),
  event: z.string().min(1),
  data: z.record(z.string(), z.unknown()),
  timestamp: z.string(),
})

const AppendReplySchema = z.tuple([z.number().int().positive(), z.string().min(1), z.number().int().min(0)])
const EntrySchema = z.tuple([z.string(), z.array(z.string())])
const ReadReplySchema = z.tuple([z.number().int().min(0), z.string().min(1), z.array(EntrySchema)])

/** What an append reports: the publication's place, and how many subscribed connections Redis handed it to. */
export interface AppendResult {
  readonly position: StreamPosition
  readonly receivers: number
}

/**
 * Stores `pub` as the next offset of its stream and publishes `head` + position on `channel`,
 * in one script. Always EVAL, never EVALSHA with a fallback: a NOSCRIPT retry would let a
 * later publication of this instance overtake an earlier one.
 */
export async function appendAndPublish(
  redis: Redis,
  keys: StreamKeys,
  pub: Publication,
  opts: HistoryOptions,
  channel: string,
  head: string,
  freshEpoch: string,
): Promise<AppendResult> {
  const reply = await redis.eval(
    APPEND_AND_PUBLISH,
    2,
    keys.meta,
    keys.stream,
    JSON.stringify(pub),
    opts.size,
    opts.ttlMs,
    opts.metaTtlMs,
    freshEpoch,
    channel,
    head,
  )
  const [offset, epoch, receivers] = AppendReplySchema.parse(reply)
  return { position: { offset, epoch }, receivers }
}

/** Reads the stream's top and (when `after` is not null) its publications above `after`. */
export async function readStream(
  redis: Redis,
  keys: StreamKeys,
  after: number | null,
  opts: HistoryOptions,
  freshEpoch: string,
  onMalformed: (raw: string) => void = () => {},
): Promise<HistoryPage> {
  const first = after === null ? -1 : after + 1
  const reply = await redis.eval(READ_STREAM, 2, keys.meta, keys.stream, first, opts.size, opts.metaTtlMs, freshEpoch)
  const [offset, epoch, entries] = ReadReplySchema.parse(reply)
  const publications: PositionedPublication[] = []
  for (const [id, fields] of entries) {
    const pub = decodeEntry(fields[1])
    if (pub === null) {
      onMalformed(fields[1] ?? '')
      continue
    }
    publications.push({ ...pub, position: { offset: Number.parseInt(id, 10), epoch } })
  }
  return { top: { offset, epoch }, publications }
}

function decodeEntry(raw: string | undefined): Publication | null {
  if (raw === undefined) return null
  try {
    const parsed = StoredPublicationSchema.safeParse(JSON.parse(raw))
    return parsed.success ? parsed.data : null
  } catch {
    return null
  }
}
