/** What happened to one file, as the watcher reports it. */
export type FileChange = 'add' | 'change' | 'unlink'

/** Where a batch goes: one call per surviving change, then one call for what did not fit. */
export interface ChangeSink {
  fileChanged(file: string, event: FileChange): void
  /** `dropped` distinct paths changed beyond the bound of one window; a client should rescan. */
  overflow(dropped: number): void
}

export interface BatcherOptions {
  /** Length of one coalescing window in milliseconds; a window opens with its first change. */
  readonly windowMs: number
  /** Distinct paths one window holds; changes to further paths are only counted. */
  readonly maxPending: number
  /** A sink call that threw (e.g. a path the schema refuses); the batch goes on. */
  readonly onError?: (err: unknown) => void
}

/** Changes handed to the sink per event-loop turn, so a large batch never holds up other channels. */
const CHUNK = 200

/** Two changes to one path within a window, folded into what a client needs to know (null: nothing). */
function fold(prev: FileChange | undefined, next: FileChange): FileChange | null {
  if (prev === undefined) return next
  if (prev === 'add') return next === 'unlink' ? null : 'add'
  if (prev === 'unlink') return next === 'unlink' ? 'unlink' : 'change'
  return next === 'unlink' ? 'unlink' : 'change'
}

/**
 * Coalesces file changes per path over a fixed window (not a sliding one, so a file written
 * continuously is still reported once per window) and hands each window to the sink in
 * chunks. Memory is bounded: at most `maxPending` paths wait in the open window and at most
 * one window is being handed over; paths beyond the bound become one overflow count.
 */
export class ChangeBatcher {
  readonly #opts: BatcherOptions
  readonly #sink: ChangeSink
  #pending = new Map<string, FileChange>()
  #dropped = 0
  #timer: NodeJS.Timeout | null = null
  #handing: Promise<void> = Promise.resolve()
  #stopped = false

  constructor(opts: BatcherOptions, sink: ChangeSink) {
    this.#opts = opts
    this.#sink = sink
  }

  /** Paths waiting in the open window. */
  get pending(): number {
    return this.#pending.size
  }

  push(file: string, event: FileChange): void {
    if (this.#stopped) return
    const prev = this.#pending.get(file)
    if (prev === undefined && this.#pending.size >= this.#opts.maxPending) {
      this.#dropped++
    } else {
      const folded = fold(prev, event)
      if (folded === null) this.#pending.delete(file)
      else this.#pending.set(file, folded)
    }
    this.#timer ??= setTimeout(() => this.#closeWindow(), this.#opts.windowMs)
  }

  /** Closes the open window now and resolves once everything pushed so far reached the sink. */
  flush(): Promise<void> {
    this.#closeWindow()
    return this.#handing
  }

  /** Drops whatever waits; later pushes are ignored. */
  stop(): void {
    this.#stopped = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    this.#pending.clear()
  }

  #closeWindow(): void {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    const batch = this.#pending
    const dropped = this.#dropped
    this.#pending = new Map()
    this.#dropped = 0
    if (batch.size === 0 && dropped === 0) return
    // Windows are handed over one after another, so a path's changes stay in order.
    this.#handing = this.#handing.then(() => this.#handOver(batch, dropped))
  }

  async #handOver(batch: Map<string, FileChange>, dropped: number): Promise<void> {
    let n = 0
    for (const [file, event] of batch) {
      if (this.#stopped) return
      this.#call(() => this.#sink.fileChanged(file, event))
      if (++n % CHUNK === 0) await new Promise<void>((resolve) => setImmediate(resolve))
    }
    if (dropped > 0 && !this.#stopped) this.#call(() => this.#sink.overflow(dropped))
  }

  #call(fn: () => void): void {
    try {
      fn()
    } catch (err) {
      this.#opts.onError?.(err)
    }
  }
}
