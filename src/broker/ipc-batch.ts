import { type IpcAnswer, type IpcRequest, ipcEnvelope } from './ipc-messages.js'

/** One end of an IPC channel as the batch sees it: `process` in a worker, a Worker in the primary. */
export interface IpcSender {
  send?(message: unknown, sendHandle?: undefined, options?: undefined, callback?: (err: Error | null) => void): boolean
}

type Failed = (err: Error) => void

/**
 * The roomcast messages bound for one end of an IPC channel, sent as ONE `send` (an array under
 * the IPC key) per event-loop turn: what a turn produces leaves in the check phase after it
 * (setImmediate), in the order it was queued. A publication fanned out to many sockets costs a
 * worker one IPC read and one turn whatever the number of publications behind it, so its socket
 * writes batch as they do with one worker. Every roomcast message of one direction goes through
 * the same batch: nothing overtakes what was queued before it.
 */
export class IpcBatch {
  readonly #to: IpcSender
  readonly #connected: () => boolean
  #queue: (IpcRequest | IpcAnswer)[] = []
  #failed: (Failed | undefined)[] = []
  #scheduled: NodeJS.Immediate | null = null
  /** `send` calls made, and the messages they carried (for tests and the bench). */
  sends = 0
  messages = 0

  constructor(to: IpcSender, connected: () => boolean) {
    this.#to = to
    this.#connected = connected
  }

  /** Queues `msg` for the end of this turn; `failed` is told if the channel refuses the batch it rides in. */
  push(msg: IpcRequest | IpcAnswer, failed?: Failed): void {
    this.#queue.push(msg)
    this.#failed.push(failed)
    this.#scheduled ??= setImmediate(() => this.flush())
  }

  /** Sends what is queued now (the turn's end does it by itself). */
  flush(): void {
    if (this.#scheduled !== null) clearImmediate(this.#scheduled)
    this.#scheduled = null
    const queue = this.#queue
    const failed = this.#failed
    if (queue.length === 0) return
    this.#queue = []
    this.#failed = []
    const fail = (err: Error) => {
      for (const f of failed) f?.(err)
    }
    if (!this.#connected() || this.#to.send === undefined) return fail(new Error('the IPC channel is closed'))
    this.sends++
    this.messages += queue.length
    try {
      this.#to.send(ipcEnvelope(queue), undefined, undefined, (err) => {
        if (err !== null) fail(err)
      })
    } catch (err) {
      fail(err instanceof Error ? err : new Error(String(err)))
    }
  }

  /** Forgets what is queued (the other end is gone), telling each message's sender. */
  drop(err: Error): void {
    if (this.#scheduled !== null) clearImmediate(this.#scheduled)
    this.#scheduled = null
    const failed = this.#failed
    this.#queue = []
    this.#failed = []
    for (const f of failed) f?.(err)
  }
}
