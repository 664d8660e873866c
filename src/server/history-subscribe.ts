import type { BatchedHistoryReads } from '../broker/history-reads.js'
import { decideRecovery, sinceProblem, type HistoryOptions, type PositionedPublication, type Recovery, type StreamPosition } from '../broker/position.js'
import { AppError, ErrorCode } from '../protocol/codes.js'
import type { JsonObject, Publication } from '../protocol/messages.js'

/** Live frames held for one subscriber while its replay is prepared. */
interface Held {
  readonly kind: 'held'
  readonly frames: { readonly pub: Publication; readonly frame: Buffer }[]
  bytes: number
  overflow: boolean
}

/**
 * After its replay: the highest position the subscriber was sent. A publication read by the
 * replay may still be on its way here live (Redis hands publications out on another connection
 * than the one that answered the read), so one at or below it is a duplicate.
 */
interface Sent {
  readonly kind: 'sent'
  readonly upTo: StreamPosition
}

/** Where a subscriber of a history channel stands with respect to its replay. */
export type Gate = Held | Sent

/**
 * Subscribers of history channels from their subscribe until their stream continues past their
 * replay. A publication delivered during the replay is held for them (its frame, encoded once
 * for everyone) and released after it, minus what the replay already sent; one delivered after
 * it is dropped while at or below what was sent: no gap, no duplicate. What is held is bounded
 * by `maxBytes` per subscriber; past it the subscriber is treated as slow.
 */
export class HeldDeliveries<C> {
  readonly #byChannel = new Map<string, Map<C, Gate>>()
  readonly #maxBytes: number

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes
  }

  /** Holds `conn`'s deliveries of `channel` until release (a subscribe already holding shares its frames). */
  hold(channel: string, conn: C): void {
    let gates = this.#byChannel.get(channel)
    if (gates === undefined) this.#byChannel.set(channel, (gates = new Map()))
    if (gates.get(conn)?.kind !== 'held') gates.set(conn, { kind: 'held', frames: [], bytes: 0, overflow: false })
  }

  /** The subscribers of `channel` with a gate now; undefined (the common case) when none. */
  holders(channel: string): Map<C, Gate> | undefined {
    return this.#byChannel.get(channel)
  }

  /** Whether `pub` goes out to `conn` now; false when it is held for after the replay, or the replay sent it. */
  pass(conn: C, gate: Gate, pub: Publication, frame: Buffer): boolean {
    if (gate.kind === 'held') {
      this.#keep(gate, pub, frame)
      return false
    }
    const position = pub.position
    if (position === undefined) return true
    if (position.epoch === gate.upTo.epoch && position.offset <= gate.upTo.offset) return false
    // A channel's publications arrive in stream order: none at or below the gate can follow this one.
    this.forget(pub.channel, conn)
    return true
  }

  #keep(held: Held, pub: Publication, frame: Buffer): void {
    if (held.overflow) return
    held.bytes += frame.length
    if (held.bytes > this.#maxBytes) {
      held.overflow = true
      held.frames.length = 0
      return
    }
    held.frames.push({ pub, frame })
  }

  /** Ends the hold: what was held, or undefined when nothing holds (the subscriber left meanwhile). */
  release(channel: string, conn: C): Held | undefined {
    const gate = this.#byChannel.get(channel)?.get(conn)
    if (gate?.kind !== 'held') return undefined
    this.forget(channel, conn)
    return gate
  }

  /** After the replay: drop live deliveries of `channel` to `conn` at or below `upTo`. */
  sentUpTo(channel: string, conn: C, upTo: StreamPosition): void {
    let gates = this.#byChannel.get(channel)
    if (gates === undefined) this.#byChannel.set(channel, (gates = new Map()))
    gates.set(conn, { kind: 'sent', upTo })
  }

  /** Drops `conn`'s gate on `channel` (it left the room, or its stream went past the gate). */
  forget(channel: string, conn: C): void {
    const gates = this.#byChannel.get(channel)
    if (gates?.delete(conn) === true && gates.size === 0) this.#byChannel.delete(channel)
  }
}

/** What the history subscribe needs from the server. */
export interface HistoryHost<C> {
  readonly held: HeldDeliveries<C>
  readonly reads: BatchedHistoryReads
  /** Joins the room (throws TOO_MANY_SUBSCRIPTIONS); returns what the answer waits for besides the broker (the service's onSubscribe), or null. */
  join(conn: C, channel: string): Promise<void> | null
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
 * has gone out — replay, release what was held above the replay's top, and go live, dropping
 * what the replay sent if it still arrives live.
 */
export async function subscribeWithHistory<C>(
  host: HistoryHost<C>,
  conn: C,
  channel: string,
  since: StreamPosition | null,
  opts: HistoryOptions,
  afterAnswer?: (fn: () => void) => void,
): Promise<JsonObject> {
  host.held.hold(channel, conn)
  let recovery: Recovery | null = null
  let recorded: Promise<void> | null = null
  try {
    recorded = host.join(conn, channel)
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
  // The service's record of the join (never rejects, bounded): in place before the answer.
  await recorded
  // After the answer: it may wait behind an earlier request's answer (answers leave in request
  // order), so the replay goes once it has gone out, in the turn after. Without afterAnswer the
  // answer is sent in a promise reaction, before any immediate.
  const live = () => setImmediate(() => goLive(host, conn, channel, recovery))
  if (afterAnswer === undefined) live()
  else afterAnswer(live)
  const top = recovery?.top ?? null
  return { status: 'subscribed', channel, recovered: recovery?.recovered ?? false, offset: top?.offset ?? null, epoch: top?.epoch ?? null }
}

function goLive<C>(host: HistoryHost<C>, conn: C, channel: string, recovery: Recovery | null): void {
  const held = host.held.release(channel, conn)
  if (held?.overflow === true) return host.overflow(conn)
  for (const pub of recovery?.replay ?? []) if (!host.send(conn, host.frame(pub), pub)) return
  // The highest position sent: the top read (the replay ends there, or the client said it has it).
  let sent = recovery?.top
  for (const { pub, frame } of held?.frames ?? []) {
    const position = pub.position
    if (sent !== undefined && position !== undefined && position.epoch === sent.epoch && position.offset <= sent.offset) continue
    if (!host.send(conn, frame, pub)) return
    if (position !== undefined) sent = position
  }
  // Still in the room (it held until now): what the read saw may yet arrive live; it is not sent twice.
  if (held !== undefined && sent !== undefined) host.held.sentUpTo(channel, conn, sent)
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
