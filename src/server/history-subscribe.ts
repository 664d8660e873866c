import type { BatchedHistoryReads } from '../broker/history-reads.js'
import { decideRecovery, sinceProblem, type HistoryOptions, type PositionedPublication, type Recovery, type StreamPosition } from '../broker/position.js'
import { AppError, ErrorCode } from '../protocol/codes.js'
import type { JsonObject, Publication } from '../protocol/messages.js'

/** Live frames held for one subscriber while its replay is prepared. */
interface Held {
  readonly frames: { readonly pub: Publication; readonly frame: Buffer }[]
  bytes: number
  overflow: boolean
}

/**
 * Subscribers of history channels between their subscribe and the end of their replay. A
 * publication delivered meanwhile is held for them (its frame, encoded once for everyone) and
 * released after the replay, minus what the replay already sent: no gap, no duplicate. What is
 * held is bounded by `maxBytes` per subscriber; past it the subscriber is treated as slow.
 */
export class HeldDeliveries<C> {
  readonly #byChannel = new Map<string, Map<C, Held>>()
  readonly #maxBytes: number

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes
  }

  hold(channel: string, conn: C): void {
    let held = this.#byChannel.get(channel)
    if (held === undefined) this.#byChannel.set(channel, (held = new Map()))
    if (!held.has(conn)) held.set(conn, { frames: [], bytes: 0, overflow: false })
  }

  /** The subscribers of `channel` whose deliveries are held now; undefined (the common case) when none. */
  holders(channel: string): Map<C, Held> | undefined {
    return this.#byChannel.get(channel)
  }

  keep(held: Held, pub: Publication, frame: Buffer): void {
    if (held.overflow) return
    held.bytes += frame.length
    if (held.bytes > this.#maxBytes) {
      held.overflow = true
      held.frames.length = 0
      return
    }
    held.frames.push({ pub, frame })
  }

  release(channel: string, conn: C): Held | undefined {
    const byConn = this.#byChannel.get(channel)
    const held = byConn?.get(conn)
    byConn?.delete(conn)
    if (byConn?.size === 0) this.#byChannel.delete(channel)
    return held
  }
}

/** What the history subscribe needs from the server. */
export interface HistoryHost<C> {
  readonly held: HeldDeliveries<C>
  readonly reads: BatchedHistoryReads
  /** Joins the room (throws TOO_MANY_SUBSCRIPTIONS). */
  join(conn: C, channel: string): void
  /** Settles once the cluster delivers the channel here; null when there is nothing to wait for. */
  whenSubscribed(channel: string): Promise<void> | null
  /** The publication framed for the wire, encoded once per publication. */
  frame(pub: Publication): Buffer
  /** Queues the framed `pub`; false when the connection is gone or slow. */
  send(conn: C, frame: Buffer, pub: Publication): boolean
  /** The connection could not take what was held for it. */
  overflow(conn: C): void
}

/**
 * Subscribes to a history channel (docs/protocol.md A.8): hold live publications, read the
 * stream, answer with the position (and whether `since` recovered), then — after the answer
 * has gone out — replay, release what was held above the replay's top, and go live.
 */
export async function subscribeWithHistory<C>(
  host: HistoryHost<C>,
  conn: C,
  channel: string,
  since: StreamPosition | null,
  opts: HistoryOptions,
): Promise<JsonObject> {
  host.held.hold(channel, conn)
  let recovery: Recovery | null = null
  try {
    host.join(conn, channel)
    await host.whenSubscribed(channel)
    const page = await host.reads.read(channel, since?.offset ?? null, opts)
    recovery = since === null ? { recovered: false, replay: [], top: page.top } : decideRecovery(since, page)
  } catch (err) {
    // The store is away: subscribed, but the position is unknown (nothing can be published meanwhile).
    if (!(err instanceof AppError && err.code === ErrorCode.BROKER_UNAVAILABLE)) {
      host.held.release(channel, conn)
      throw err
    }
  }
  // After this turn: the answer is sent in a promise reaction, before any immediate.
  setImmediate(() => goLive(host, conn, channel, recovery))
  const top = recovery?.top ?? null
  return { status: 'subscribed', channel, recovered: recovery?.recovered ?? false, offset: top?.offset ?? null, epoch: top?.epoch ?? null }
}

function goLive<C>(host: HistoryHost<C>, conn: C, channel: string, recovery: Recovery | null): void {
  const held = host.held.release(channel, conn)
  if (held?.overflow === true) return host.overflow(conn)
  for (const pub of recovery?.replay ?? []) if (!host.send(conn, host.frame(pub), pub)) return
  const top = recovery?.top
  for (const { pub, frame } of held?.frames ?? []) {
    // At or below the top read: the replay had it, or the client said it has it.
    const position = pub.position
    if (top !== undefined && position !== undefined && position.epoch === top.epoch && position.offset <= top.offset) continue
    if (!host.send(conn, frame, pub)) return
  }
}

/** Frames of replayed publications, cached on the (shared) page objects: a storm encodes each once. */
export function frameCache(encode: (pub: Publication) => Buffer): (pub: Publication) => Buffer {
  const cache = new WeakMap<PositionedPublication | Publication, Buffer>()
  return (pub) => {
    let frame = cache.get(pub)
    if (frame === undefined) cache.set(pub, (frame = encode(pub)))
    return frame
  }
}

/** A client's `since` as a position; null when absent. Throws INVALID_PARAMS naming the field. */
export function parseSince(value: unknown): StreamPosition | null {
  if (value === undefined || value === null) return null
  const problem = sinceProblem(value)
  if (problem !== null) throw new AppError(ErrorCode.INVALID_PARAMS, `Invalid parameter '${problem.split(' ')[0]}': ${problem}`)
  const { offset, epoch } = value as StreamPosition
  return { offset, epoch }
}
