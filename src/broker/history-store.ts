import type { Publication } from '../protocol/messages.js'
import type { HistoryOptions, HistoryPage, PositionedPublication, StreamPosition } from './position.js'

/**
 * A history publication on its way out: the cluster channel it goes on, the cluster message
 * without its closing brace (the store completes it with the position, see
 * `completeWithPosition`), and the transport's publish on that channel for a store that cannot
 * publish in its own step.
 */
export interface OutgoingPublication {
  readonly channel: string
  readonly head: string
  readonly send: (bytes: string) => Promise<number>
}

/** What an append reports: the publication's place, and how many subscribers the message reached. */
export interface Appended {
  readonly position: StreamPosition
  /** Subscribers of the cluster channel the message reached, this instance included when it listens (0 when nothing was sent). */
  readonly receivers: number
  /** The publication as stored, when the store made it in this process: delivered as it is, not copied again. */
  readonly stored?: PositionedPublication
}

/**
 * Where the streams of history channels live (docs/protocol.md A.8): a memory ring per channel
 * in one process, or a Redis stream shared by every instance. A store numbers the publications
 * of a channel 1, 2, 3, … under an epoch that changes whenever the stream's past is lost.
 */
export interface HistoryStore {
  readonly kind: string
  /**
   * Stores `pub` as the next offset of its channel's stream and, in the same step, sends `out`
   * completed with that position, so no instance delivers a publication history lacks and
   * publications reach every instance in offset order. `out` null (one process, nobody to send
   * to): only stored. May answer synchronously (a store in this process), so that the caller
   * can deliver in the same turn. Rejects with AppError BROKER_UNAVAILABLE when it cannot store.
   */
  appendAndPublish(pub: Publication, opts: HistoryOptions, out: OutgoingPublication | null): Appended | Promise<Appended>
  /**
   * The stream's top position and (unless `after` is null) its kept publications above `after`,
   * in order; creates the stream when missing, so the top a subscriber is told is the one the
   * next publication continues. Rejects with BROKER_UNAVAILABLE when the store is unreachable.
   */
  read(channel: string, after: number | null, opts: HistoryOptions): HistoryPage | Promise<HistoryPage>
  /** Starts background work (expiry sweeps), if any; `malformed` counts stored entries that fail validation (and are skipped). */
  open(malformed: (raw: string) => void): void
  /** Stops it and lets go of what is held in this process. */
  close(): void
}
