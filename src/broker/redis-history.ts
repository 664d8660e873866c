import type { Cluster, Redis } from 'ioredis'
import { z } from 'zod'
import { AppError, ErrorCode } from '../protocol/codes.js'
import type { Publication } from '../protocol/messages.js'
import type { Appended, HistoryStore, OutgoingPublication } from './history-store.js'
import { newEpoch } from './memory-history.js'
import type { HistoryOptions, HistoryPage, PositionedPublication } from './position.js'
import type { RedisNames } from './redis-channels.js'
import { APPEND_AND_PUBLISH, READ_STREAM } from './redis-scripts.js'

/** The two keys of one channel's stream (see redis-scripts.ts). */
/** A connection that runs the scripts: one Redis, or a Redis Cluster (the keys of a script then share one slot). */
export type ScriptRunner = Redis | Cluster

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


/**
 * Stores `pub` as the next offset of its stream and publishes `head` + position on `channel`,
 * in one script. Always EVAL, never EVALSHA with a fallback: a NOSCRIPT retry would let a
 * later publication of this instance overtake an earlier one.
 */
export async function appendAndPublish(
  redis: ScriptRunner,
  keys: StreamKeys,
  pub: Publication,
  opts: HistoryOptions,
  channel: string,
  head: string,
  freshEpoch: string,
  publishCommand: 'publish' | 'spublish' = 'publish',
): Promise<Appended> {
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
    publishCommand,
  )
  const [offset, epoch, receivers] = AppendReplySchema.parse(reply)
  return { position: { offset, epoch }, receivers }
}

/** Reads the stream's top and (when `after` is not null) its publications above `after`. */
export async function readStream(
  redis: ScriptRunner,
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

/** What the Redis history store needs from the transport whose connection it shares. */
export interface RedisHistoryDeps {
  /** The publishing connection, or null before the transport is open. */
  readonly connection: () => ScriptRunner | null
  /** The service's names, or null before the transport is open. */
  readonly names: () => RedisNames | null
  /** Longest wait for Redis to answer before the store is called unavailable. */
  readonly timeoutMs: number
  /** How the script publishes: `spublish` on a Redis Cluster (sharded pub/sub). @default 'publish' */
  readonly publishCommand?: 'publish' | 'spublish'
}

/**
 * History on Redis with the broker's errors: anything that keeps a script from answering (no
 * connection, Redis gone, no answer within `timeoutMs`) is BROKER_UNAVAILABLE. A script sent
 * just before a crash may still have run; its publisher is told it was refused, so a refused
 * publication can exist, but an accepted one always does. Every publication is published by the
 * script that stores it: its publisher, like every other instance, delivers it when Redis hands
 * it back.
 */
export class RedisHistory implements HistoryStore {
  readonly kind = 'redis'
  readonly #deps: RedisHistoryDeps
  #malformed: (raw: string) => void = () => {}

  constructor(deps: RedisHistoryDeps) {
    this.#deps = deps
  }

  appendAndPublish(pub: Publication, opts: HistoryOptions, out: OutgoingPublication | null): Promise<Appended> {
    // The script always publishes: a store shared across instances has someone to tell.
    if (out === null) return Promise.reject(new Error('the Redis history store publishes what it stores: give it the message'))
    return this.#guard((redis, names) =>
      appendAndPublish(redis, names.streamKeys(pub.channel), pub, opts, names.channel(out.channel), out.head, newEpoch(), this.#deps.publishCommand),
    )
  }

  read(channel: string, after: number | null, opts: HistoryOptions): Promise<HistoryPage> {
    return this.#guard((redis, names) => readStream(redis, names.streamKeys(channel), after, opts, newEpoch(), this.#malformed))
  }

  open(malformed: (raw: string) => void): void {
    this.#malformed = malformed
  }
  close(): void {}

  async #guard<T>(run: (redis: ScriptRunner, names: RedisNames) => Promise<T>): Promise<T> {
    const redis = this.#deps.connection()
    const names = this.#deps.names()
    if (redis === null || names === null || redis.status !== 'ready') throw unavailable('redis is not connected')
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer from redis within ${this.#deps.timeoutMs} ms`)), this.#deps.timeoutMs)
    })
    try {
      return await Promise.race([run(redis, names), timeout])
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
