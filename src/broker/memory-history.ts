import { randomBytes } from 'node:crypto'
import type { Publication } from '../protocol/messages.js'
import { completeWithPosition } from './cluster-messages.js'
import type { Appended, HistoryStore, OutgoingPublication } from './history-store.js'
import type { HistoryOptions, HistoryPage, PositionedPublication } from './position.js'

/** How often expired streams are swept while the store is open. */
const SWEEP_MS = 1000

/** A new epoch: random, so a restarted process or a recreated stream never reuses one. */
export function newEpoch(): string {
  return randomBytes(8).toString('hex')
}

/** One channel's stream: a ring of at most `size` publications under one epoch. */
interface Stream {
  readonly epoch: string
  top: number
  /** Ring buffer; `ring[(start + i) % ring.length]` is the i-th oldest kept publication. */
  ring: PositionedPublication[]
  start: number
  /** Publications are dropped after this time (ms), the epoch and top after `metaExpiresAt`. */
  expiresAt: number
  metaExpiresAt: number
}

export interface MemoryHistoryOptions {
  readonly now?: () => number
  readonly newEpoch?: () => string
}

/**
 * In-process history: per channel a ring bounded by `size`, dropped `ttlMs` after the channel's
 * last publication; the stream itself (epoch, top offset) is forgotten `metaTtlMs` after its
 * last use, and recreated under a new epoch, so a client never mistakes new offsets for old ones.
 */
export class MemoryHistory implements HistoryStore {
  readonly kind = 'memory'
  readonly #streams = new Map<string, Stream>()
  readonly #now: () => number
  readonly #newEpoch: () => string
  #sweep: NodeJS.Timeout | null = null
  #users = 0

  constructor(opts: MemoryHistoryOptions = {}) {
    this.#now = opts.now ?? Date.now
    this.#newEpoch = opts.newEpoch ?? newEpoch
  }

  /** Number of streams held (for stats and tests). */
  get size(): number {
    return this.#streams.size
  }

  /**
   * Stored and sent in the same turn: nothing of this process can come between the two. Answers
   * at once when there is nothing to send (one process), so the caller delivers in that turn too.
   */
  appendAndPublish(pub: Publication, opts: HistoryOptions, out: OutgoingPublication | null): Appended | Promise<Appended> {
    const stored = this.append(pub, opts)
    const { position } = stored
    if (out === null) return { position, receivers: 0, stored }
    return out.send(completeWithPosition(out.head, position)).then((receivers) => ({ position, receivers }))
  }

  /** Starts the expiry sweep; a store shared by several brokers (one MemoryBus) sweeps until the last closes. */
  open(): void {
    if (this.#users++ > 0) return
    this.#sweep = setInterval(() => this.sweep(), SWEEP_MS)
    this.#sweep.unref()
  }

  close(): void {
    if (--this.#users > 0) return
    this.#users = 0
    if (this.#sweep !== null) clearInterval(this.#sweep)
    this.#sweep = null
  }

  /** Stores a publication as the next offset of its channel's stream. */
  append(pub: Publication, opts: HistoryOptions): PositionedPublication {
    const now = this.#now()
    const s = this.#stream(pub.channel, opts, now)
    if (now >= s.expiresAt) this.#clear(s)
    s.top++
    const stored: PositionedPublication = { ...pub, position: { offset: s.top, epoch: s.epoch } }
    if (s.ring.length < opts.size) {
      s.ring.push(stored)
    } else {
      // Full: overwrite the oldest (a size lowered by a restart never applies: the ring is new then).
      s.ring[s.start] = stored
      s.start = (s.start + 1) % s.ring.length
    }
    s.expiresAt = now + opts.ttlMs
    s.metaExpiresAt = now + opts.metaTtlMs
    return stored
  }

  /** The stream's top and its publications with an offset above `after` (none when null). */
  read(channel: string, after: number | null, opts: HistoryOptions): HistoryPage {
    const now = this.#now()
    const s = this.#stream(channel, opts, now)
    if (now >= s.expiresAt) this.#clear(s)
    s.metaExpiresAt = Math.max(s.metaExpiresAt, now + opts.metaTtlMs)
    const top = { offset: s.top, epoch: s.epoch }
    if (after === null) return { top, publications: [] }
    const publications: PositionedPublication[] = []
    for (let i = 0; i < s.ring.length; i++) {
      const p = s.ring[(s.start + i) % s.ring.length] as PositionedPublication
      if (p.position.offset > after) publications.push(p)
    }
    return { top, publications }
  }

  /** Forgets streams whose epoch expired and empties those whose publications did; returns streams dropped. */
  sweep(): number {
    const now = this.#now()
    let dropped = 0
    for (const [channel, s] of this.#streams) {
      if (now >= s.metaExpiresAt) {
        this.#streams.delete(channel)
        dropped++
      } else if (now >= s.expiresAt && s.ring.length > 0) {
        this.#clear(s)
      }
    }
    return dropped
  }

  #stream(channel: string, opts: HistoryOptions, now: number): Stream {
    const s = this.#streams.get(channel)
    if (s !== undefined && now < s.metaExpiresAt) return s
    const fresh: Stream = { epoch: this.#newEpoch(), top: 0, ring: [], start: 0, expiresAt: now + opts.ttlMs, metaExpiresAt: now + opts.metaTtlMs }
    this.#streams.set(channel, fresh)
    return fresh
  }

  #clear(s: Stream): void {
    s.ring = []
    s.start = 0
  }
}
