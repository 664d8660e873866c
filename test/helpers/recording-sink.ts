import type { ChangeSink, FileChange } from '../../src/sources/change-batcher.js'
import type { GitSink } from '../../src/sources/git-watcher.js'

export type Recorded =
  | { kind: 'file'; file: string; event: FileChange }
  | { kind: 'overflow'; dropped: number }
  | { kind: 'git'; type: string; message: string; branch: string | null; commit: string | null }
  | { kind: 'mark'; label: string }

/**
 * A hand-written sink at the sources' seam: it records every call in order and
 * lets a test wait until what it recorded satisfies a predicate, re-checked on each call.
 */
export class RecordingSink implements ChangeSink, GitSink {
  readonly calls: Recorded[] = []
  /** The file calls alone, kept as they come (a predicate re-checked per call must stay cheap). */
  readonly files: { file: string; event: FileChange }[] = []
  dropped = 0
  readonly #waiters: { pred: () => boolean; resolve: () => void }[] = []
  /** Runs on each file call, e.g. to schedule work of another channel in the middle of a batch. */
  onFile: ((file: string) => void) | null = null

  fileChanged(file: string, event: FileChange): void {
    this.files.push({ file, event })
    this.#record({ kind: 'file', file, event })
    this.onFile?.(file)
  }

  overflow(dropped: number): void {
    this.dropped += dropped
    this.#record({ kind: 'overflow', dropped })
  }

  gitEvent(type: string, message: string, details: { branch: string | null; commit: string | null }): void {
    this.#record({ kind: 'git', type, message, ...details })
  }

  mark(label: string): void {
    this.#record({ kind: 'mark', label })
  }

  get git(): Extract<Recorded, { kind: 'git' }>[] {
    return this.calls.flatMap((c) => (c.kind === 'git' ? [c] : []))
  }

  /** Resolves once `pred` holds; rejects after `timeoutMs` listing what was recorded. */
  until(pred: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (pred()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.#waiters.findIndex((w) => w.pred === pred)
        if (i !== -1) this.#waiters.splice(i, 1)
        reject(new Error(`${what}: not within ${timeoutMs} ms; recorded ${JSON.stringify(this.calls.slice(-20))}`))
      }, timeoutMs)
      this.#waiters.push({ pred, resolve: () => (clearTimeout(timer), resolve()) })
    })
  }

  /** Resolves once a file call for `file` with `event` was recorded. */
  fileEvent(file: string, event: FileChange, timeoutMs?: number): Promise<void> {
    return this.until(() => this.files.some((f) => f.file === file && f.event === event), `${event} ${file}`, timeoutMs)
  }

  #record(call: Recorded): void {
    this.calls.push(call)
    for (const w of [...this.#waiters]) {
      if (w.pred()) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1)
        w.resolve()
      }
    }
  }
}
