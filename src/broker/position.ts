import type { Publication, StreamPosition } from '../protocol/messages.js'

/**
 * Where a publication sits in its channel's stream (docs/protocol.md A.8): offsets count 1, 2,
 * 3, … within one epoch; the epoch is an opaque string that changes whenever the stream's past
 * is lost (broker restarted or flushed, key expired), so an offset is only meaningful with it.
 */
export type { StreamPosition }

/** A publication of a history channel, with its place in the stream. */
export type PositionedPublication = Publication & { readonly position: StreamPosition }

/** How one history channel keeps its past (the `history` settings of a service). */
export interface HistoryOptions {
  /** Most publications kept per channel (older ones are trimmed). */
  readonly size: number
  /** Milliseconds the publications are kept after the channel's last publication. */
  readonly ttlMs: number
  /**
   * Milliseconds the stream's epoch and top offset are kept after the last publication or
   * read; longer than `ttlMs`, so a client that missed nothing still recovers after the
   * publications expired.
   */
  readonly metaTtlMs: number
}

/** A stream read: the current top and the publications after the offset asked for, in order. */
export interface HistoryPage {
  readonly top: StreamPosition
  readonly publications: readonly PositionedPublication[]
}

/** The outcome of a recovery: what to replay, and whether it is everything the client missed. */
export interface Recovery {
  readonly recovered: boolean
  /** Publications after `since`, in order; empty when not recovered (the client reloads instead). */
  readonly replay: readonly PositionedPublication[]
  /** The stream's top when it was read; live publications at or below it are duplicates. */
  readonly top: StreamPosition
}

/** Longest epoch accepted from a client; ours are 16 hex characters. */
export const MAX_EPOCH_LENGTH = 64

/**
 * Why a client's `since` is not a stream position, naming the field, or null when it is one.
 * `field` is how the client spelled the key (e.g. `since`), used in the message.
 */
export function sinceProblem(value: unknown, field = 'since'): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `${field} must be an object {offset, epoch}`
  const { offset, epoch } = value as Record<string, unknown>
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) return `${field}.offset must be an integer ≥ 0`
  if (typeof epoch !== 'string' || epoch.length === 0 || epoch.length > MAX_EPOCH_LENGTH) {
    return `${field}.epoch must be a non-empty string of at most ${MAX_EPOCH_LENGTH} characters`
  }
  return null
}

/**
 * Decides a recovery from a page read after `since.offset`: recovered only when the epoch is
 * the same and the page continues exactly where the client stopped (nothing trimmed or expired
 * in between). A client ahead of the stream's top is not recovered either.
 */
export function decideRecovery(since: StreamPosition, page: HistoryPage): Recovery {
  const { top } = page
  const fail: Recovery = { recovered: false, replay: [], top }
  if (since.epoch !== top.epoch || since.offset > top.offset) return fail
  // Above `since` and not above the top told to the client: what comes after the top arrives live.
  const replay = page.publications.filter((p) => p.position.offset > since.offset && p.position.offset <= top.offset)
  if (since.offset === top.offset) return { recovered: true, replay: [], top }
  // Every offset from since + 1 to the top, none missing (trimmed, expired or unreadable).
  const contiguous = replay.every((p, i) => p.position.offset === since.offset + 1 + i)
  if (!contiguous || replay.length !== top.offset - since.offset) return fail
  return { recovered: true, replay, top }
}
