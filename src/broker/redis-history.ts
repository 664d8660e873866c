import type { Redis } from 'ioredis'
import { z } from 'zod'
import { AppError, ErrorCode } from '../protocol/codes.js'
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

/** What the Redis history store needs from the broker that owns the connection. */
export interface RedisHistoryDeps {
  /** The publishing connection, or null before start. */
  readonly connection: () => Redis | null
  readonly keys: (channel: string) => StreamKeys
  /** The pub/sub channel of a room. */
  readonly room: (channel: string) => string
  /** The message published for `pub`, without its closing brace (cluster-messages.ts). */
  readonly head: (pub: Publication, report?: string) => string
  readonly onMalformed: (raw: string) => void
  /** Longest wait for Redis to answer before the store is called unavailable. */
  readonly timeoutMs: number
}

/**
 * History on Redis with the broker's errors: anything that keeps a script from answering (no
 * connection, Redis gone, no answer within `timeoutMs`) is BROKER_UNAVAILABLE. A script sent
 * just before a crash may still have run; its publisher is told it was refused, so a refused
 * publication can exist, but an accepted one always does.
 */
export class RedisHistory {
  readonly #deps: RedisHistoryDeps

  constructor(deps: RedisHistoryDeps) {
    this.#deps = deps
  }

  append(pub: Publication, opts: HistoryOptions, freshEpoch: string, report?: string): Promise<AppendResult> {
    const d = this.#deps
    return this.#guard((redis) => appendAndPublish(redis, d.keys(pub.channel), pub, opts, d.room(pub.channel), d.head(pub, report), freshEpoch))
  }

  read(channel: string, after: number | null, opts: HistoryOptions, freshEpoch: string): Promise<HistoryPage> {
    return this.#guard((redis) => readStream(redis, this.#deps.keys(channel), after, opts, freshEpoch, this.#deps.onMalformed))
  }

  async #guard<T>(run: (redis: Redis) => Promise<T>): Promise<T> {
    const redis = this.#deps.connection()
    if (redis === null || redis.status !== 'ready') throw unavailable('redis is not connected')
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer from redis within ${this.#deps.timeoutMs} ms`)), this.#deps.timeoutMs)
    })
    try {
      return await Promise.race([run(redis), timeout])
    } catch (err) {
      throw unavailable((err as Error).message, err)
    } finally {
      clearTimeout(timer)
    }
  }
}

function unavailable(why: string, cause?: unknown): AppError {
  return new AppError(ErrorCode.BROKER_UNAVAILABLE, `History store unavailable (${why}): not accepted, retry later`, { cause })
}
