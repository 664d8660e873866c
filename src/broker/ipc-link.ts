import { type IpcAnswer, IpcAnswerSchema, type IpcAsk, ipcEnvelope, ipcPayload } from './ipc-messages.js'

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
 * registered under its name. When the channel closes (the primary is gone) every pending request is
 * rejected and `onLost` is told.
 */
export class IpcLink {
  readonly #port: IpcPort
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  readonly #messageListeners: ((bytes: string) => void)[] = []
  readonly #lostListeners: (() => void)[] = []
  readonly #answers = new Map<string, (arg: unknown) => unknown>()
  #next = 0
  malformed = 0

  constructor(port: IpcPort) {
    this.#port = port
    port.on('message', (raw) => this.#receive(raw))
    port.on('disconnect', () => {
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

  /** Sends a request; resolves with the primary's answer, rejects with its error or when the channel is closed. */
  ask(request: IpcAsk): Promise<unknown> {
    if (!this.#port.connected || this.#port.send === undefined) return Promise.reject(new Error('no IPC channel to the primary'))
    const id = this.#next++
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.#port.send?.(ipcEnvelope({ ...request, v: 1, id } as Parameters<typeof ipcEnvelope>[0]), undefined, undefined, (err) => {
        if (err === null) return
        this.#pending.delete(id)
        reject(err)
      })
    })
  }

  #receive(raw: unknown): void {
    const payload = ipcPayload(raw)
    if (payload === undefined) return
    const parsed = IpcAnswerSchema.safeParse(payload)
    if (!parsed.success) {
      this.malformed++
      return
    }
    this.#answer(parsed.data)
  }

  #reply(id: number, name: string, arg: unknown): void {
    const send = (msg: Parameters<typeof ipcEnvelope>[0]) => {
      if (this.#port.connected) this.#port.send?.(ipcEnvelope(msg), undefined, undefined, () => {})
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
