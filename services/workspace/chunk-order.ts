import { AppError, ErrorCode } from '../../src/protocol/codes.js'
import { BoundedMap } from '../../src/util/bounded-map.js'

/** A chunk of an AI response stream, as `ai.chunk` carries it. */
export interface Chunk {
  readonly id: string
  readonly index: number
  readonly finished: boolean
}

/** Marks a stream that ended with `finished: true`; later chunks of that id are refused. */
const ENDED = -1

/**
 * Keeps each AI response stream in order on its way in: chunk `index` 0, 1, 2, … and nothing
 * after `finished: true`, so subscribers receive the chunks of one id in index order, ending
 * with finished. A chunk out of order is refused (INVALID_EVENT) rather than reordered: the
 * producer learns at once, and nothing is buffered. Streams are remembered in a bounded map
 * (the least recently written stream is forgotten first; its next chunk is then refused).
 */
export class ChunkOrder {
  readonly #next: BoundedMap<string, number>

  constructor(maxStreams: number) {
    this.#next = new BoundedMap(maxStreams)
  }

  /**
   * Checks `chunk` is the next of its stream (else throws INVALID_EVENT) and takes its place;
   * the returned function gives the place back when the publish fails after all.
   */
  take(chunk: Chunk): () => void {
    const expected = this.#next.get(chunk.id) ?? 0
    if (expected === ENDED) throw new AppError(ErrorCode.INVALID_EVENT, `ai.chunk: stream ${chunk.id} already finished`)
    if (chunk.index !== expected) {
      throw new AppError(ErrorCode.INVALID_EVENT, `ai.chunk: index ${chunk.index} of stream ${chunk.id} out of order, expected ${expected}`)
    }
    const taken = chunk.finished ? ENDED : expected + 1
    this.#next.set(chunk.id, taken)
    // Publishes are asynchronous: give the place back only if no later chunk has taken the next one.
    return () => {
      if (this.#next.get(chunk.id) === taken) this.#next.set(chunk.id, expected)
    }
  }
}
