import type { Settings } from '../config/settings.js'
import { ErrorCode } from '../protocol/codes.js'
import type { JsonShapeLimits } from '../protocol/json-shape.js'
import { MAX_JSON_DEPTH } from '../protocol/json-depth.js'
import { TokenBucket } from './rate-limiter.js'

/** Why a frame was dropped before decoding, and for how long the connection is not read. */
export interface InboundRefusal {
  readonly code: typeof ErrorCode.RATE_LIMIT_EXCEEDED
  readonly message: string
  /** Milliseconds to stop reading the socket (0: keep reading). */
  readonly pauseMs: number
}

export type BudgetSettings = Pick<Settings, 'message_rate_limit' | 'byte_rate_limit' | 'max_frame_keys' | 'max_frame_elements'>

const shapeLimits = new WeakMap<BudgetSettings, JsonShapeLimits>()

/** The shape limits of one inbound frame (max_frame_keys, max_frame_elements), one object per settings. */
export function frameShapeLimits(settings: BudgetSettings): JsonShapeLimits {
  let limits = shapeLimits.get(settings)
  if (limits === undefined) {
    limits = { maxDepth: MAX_JSON_DEPTH, maxKeys: settings.max_frame_keys, maxElements: settings.max_frame_elements }
    shapeLimits.set(settings, limits)
  }
  return limits
}

/**
 * One connection's inbound budget: frames per second (message_rate_limit) and bytes per second
 * (byte_rate_limit), both checked before a frame is decoded so that a refusal costs nothing.
 * Frames are not what parsing costs; bytes and keys are: with the frame count alone, five
 * clients sending 1 MiB frames within the frame limit held the event loop for seconds.
 */
export class InboundBudget {
  readonly #frames: TokenBucket
  readonly #bytes: TokenBucket

  constructor(settings: BudgetSettings, now: number) {
    this.#frames = new TokenBucket(settings.message_rate_limit, now)
    // A frame larger than the bucket (up to max_payload) passes when it is full and leaves it in debt.
    this.#bytes = new TokenBucket(settings.byte_rate_limit, now)
  }

  /** Null when a frame of `bytes` may be decoded; else the refusal (the frame is dropped, nothing is taken). */
  admit(bytes: number, now: number): InboundRefusal | null {
    const wait = this.#frames.take(now)
    if (wait > 0) return { code: ErrorCode.RATE_LIMIT_EXCEEDED, message: `Message rate limit exceeded. Retry after ${wait.toFixed(3)} seconds.`, pauseMs: 0 }
    const byteWait = this.#bytes.take(now, bytes)
    if (byteWait > 0) {
      // Reading on would only fill memory with frames to drop: let TCP hold the client back instead.
      return {
        code: ErrorCode.RATE_LIMIT_EXCEEDED,
        message: `Byte rate limit exceeded (${this.#bytes.rate} bytes/s). Retry after ${byteWait.toFixed(3)} seconds.`,
        pauseMs: Math.ceil(byteWait * 1000),
      }
    }
    return null
  }

  /**
   * Milliseconds to stop reading after an admitted frame left the byte budget in debt (a frame
   * larger than the bucket does): the frames behind it would only be read to be refused. Reading
   * resumes once a small request (1 KiB) would pass again.
   */
  debtMs(): number {
    return Math.ceil(this.#bytes.debt(1024) * 1000)
  }
}
