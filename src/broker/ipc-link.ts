import { IpcBatch } from './ipc-batch.js'
import { type IpcAnswer, IpcAnswerSchema, type IpcAsk, ipcPayloads, type IpcRequest } from './ipc-messages.js'

/** The IPC channel of a worker to its primary: `process` in a node:cluster worker. */
export interface IpcPort {
  readonly connected: boolean
  send?(message: unknown, sendHandle?: undefined, options?: undefined, callback?: (err: Error | null) => void): boolean
  on(event: 'message', listener: (message: unknown) => void): unknown
  on(event: 'disconnect', listener: () => void): unknown
  off(event: 'message', listener: (message: unknown) => void): unknown
}

/**
 * A worker's requests to its primary and the primary's answers, by id, over one IPC channel
 * shared by the ipc transport, the ipc history store and the runner. Relayed cluster messages
 * go to `onMessage`; what the primary asks of this worker is answered by the handler `answer`
 * registered under its name. Whatever one turn sends leaves as one batch (ipc-batch.ts), requests
 * and replies in the order they were made. When the channel closes (the primary is gone) every
 * pending request is rejected and `onLost` is told.
 */
export class IpcLink {
  readonly #port: IpcPort
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  readonly #messageListeners: ((bytes: string) => void)[] = []
  readonly #lostListeners: (() => void)[] = []
  readonly #answers = new Map<string, (arg: unknown) => unknown>()
  readonly #batch: IpcBatch
  #next = 0
  malformed = 0

  constructor(port: IpcPort) {
    this.#port = port
    this.#batch = new IpcBatch(port, () => port.connected)
    port.on('message', (raw) => this.#receive(raw))
    port.on('disconnect', () => {
      this.#batch.drop(new Error('the primary is gone (IPC channel closed)'))
      for (const p of this.#pending.values()) p.reject(new Error('the primary is gone (IPC channel closed)'))
      this.#pending.clear()
      for (const l of this.#lostListeners) l()
    })
  }

  get connected(): boolean {
    return this.#port.connected
  }

  onMessage(listener: (bytes: string) => void): void {
    this.#messageListeners.push(listener)
  }

  onLost(listener: () => void): void {
    this.#lostListeners.push(listener)
  }

  /** Answers the primary's asks named `name` with what `handler` returns (or resolves to). */
  answer(name: string, handler: (arg: unknown) => unknown): void {
    this.#answers.set(name, handler)
  }

  /** `send` calls to the primary so far and the messages they carried. */
  get sent(): { readonly sends: number; readonly messages: number } {
    return { sends: this.#batch.sends, messages: this.#batch.messages }
  }

  /** Sends a request; resolves with the primary's answer, rejects with its error or when the channel is closed. */
  ask(request: IpcAsk): Promise<unknown> {
    if (!this.#port.connected || this.#port.send === undefined) return Promise.reject(new Error('no IPC channel to the primary'))
    const id = this.#next++
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.#batch.push({ ...request, v: 1, id } as IpcRequest, (err) => {
        this.#pending.delete(id)
        reject(err)
      })
    })
  }

  #receive(raw: unknown): void {
    const payloads = ipcPayloads(raw)
    if (payloads === undefined) return
    for (const payload of payloads) {
      const parsed = IpcAnswerSchema.safeParse(payload)
      if (parsed.success) this.#answer(parsed.data)
      else this.malformed++
    }
  }

  #reply(id: number, name: string, arg: unknown): void {
    const send = (msg: IpcRequest) => {
      if (this.#port.connected) this.#batch.push(msg)
    }
    const handler = this.#answers.get(name)
    new Promise((resolve) => {
      if (handler === undefined) throw new Error(`this worker does not answer ${name}`)
      resolve(handler(arg))
    }).then(
      (value) => send({ v: 1, op: 'reply', id, value }),
      (err: unknown) => send({ v: 1, op: 'reply_failed', id, error: err instanceof Error ? err.message : String(err) }),
    )
  }

  #answer(msg: IpcAnswer): void {
    if (msg.op === 'message') {
      for (const l of this.#messageListeners) l(msg.bytes)
      return
    }
    if (msg.op === 'ask') return this.#reply(msg.id, msg.name, msg.arg)
    const pending = this.#pending.get(msg.id)
    if (pending === undefined) return
    this.#pending.delete(msg.id)
    if (msg.op === 'done') pending.resolve(msg.value)
    else pending.reject(new Error(msg.error))
  }
}
