import { RoomcastError } from './errors.js'
import type { JsonObject } from '../protocol/index.js'

interface Waiter {
  readonly resolve: (data: JsonObject) => void
  readonly reject: (err: RoomcastError) => void
  readonly timer: ReturnType<typeof setTimeout>
  readonly what: string
}

/** Requests in flight, keyed by the id the answer will carry; each settles once, by answer, timeout or loss. */
export class PendingRequests {
  readonly #waiting = new Map<string, Waiter>()
  readonly #onTimeout: (sentAt: number) => void

  /** `onTimeout` hears of every request that timed out, with the time it was sent. */
  constructor(onTimeout: (sentAt: number) => void = () => {}) {
    this.#onTimeout = onTimeout
  }

  get size(): number {
    return this.#waiting.size
  }

  /** Waits for the answer to request `id`; rejects with TIMEOUT after `timeoutMs`. */
  wait(id: string, what: string, timeoutMs: number): Promise<JsonObject> {
    const sentAt = Date.now()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id)
        reject(new RoomcastError('TIMEOUT', `${what}: no answer within ${timeoutMs} ms`))
        this.#onTimeout(sentAt)
      }, timeoutMs)
      this.#waiting.set(id, { resolve, reject, timer, what })
    })
  }

  /** Settles request `id` with an answer; false when nobody waits for it. */
  resolve(id: string, data: JsonObject): boolean {
    const w = this.#take(id)
    w?.resolve(data)
    return w !== undefined
  }

  /** Settles request `id` with a server error; false when nobody waits for it. */
  reject(id: string, code: string, message: string): boolean {
    const w = this.#take(id)
    w?.reject(new RoomcastError(code, `${w.what}: ${message}`))
    return w !== undefined
  }

  /** Fails every request in flight (the connection is gone: its answers will never come). */
  rejectAll(code: string, message: string): void {
    for (const id of [...this.#waiting.keys()]) this.reject(id, code, message)
  }

  #take(id: string): Waiter | undefined {
    const w = this.#waiting.get(id)
    if (w === undefined) return undefined
    this.#waiting.delete(id)
    clearTimeout(w.timer)
    return w
  }
}
