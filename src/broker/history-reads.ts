import type { HistoryOptions, HistoryPage } from './position.js'

type Read = (channel: string, after: number | null, opts: HistoryOptions) => Promise<HistoryPage>

interface Batch {
  after: number | null
  readonly opts: HistoryOptions
  readonly page: Promise<HistoryPage>
}

/**
 * Merges the history reads of one channel asked in the same event-loop turn into one: a
 * reconnect storm of thousands of subscribers costs one Redis script, not thousands. The read
 * starts after the turn (setImmediate), so every caller that joins it had begun holding live
 * publications before it was issued: the page's top is never older than what they hold.
 * The merged read starts at the lowest offset asked; each caller keeps what is above its own.
 */
export class BatchedHistoryReads {
  readonly #read: Read
  readonly #open = new Map<string, Batch>()

  constructor(read: Read) {
    this.#read = read
  }

  read(channel: string, after: number | null, opts: HistoryOptions): Promise<HistoryPage> {
    const open = this.#open.get(channel)
    if (open !== undefined) {
      // null asks for the top only: any offset asks for more.
      if (after !== null && (open.after === null || after < open.after)) open.after = after
      return open.page
    }
    let start: () => void = () => {}
    const page = new Promise<void>((resolve) => {
      start = resolve
    }).then(() => {
      this.#open.delete(channel)
      return this.#read(channel, batch.after, batch.opts)
    })
    const batch: Batch = { after, opts, page }
    this.#open.set(channel, batch)
    setImmediate(start)
    return page
  }
}
