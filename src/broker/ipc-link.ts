import { z } from 'zod'
import { IpcBatch } from './ipc-batch.js'
import { IpcMesh, type MeshJoined, type MeshTimings } from './ipc-mesh.js'
import { type IpcAnswer, IpcAnswerSchema, type IpcAsk, ipcPayloads, type IpcRequest, MESH_INTEREST } from './ipc-messages.js'

const channels = z.array(z.string().min(1))
const MeshJoinedSchema = z.object({
  id: z.number().int().nonnegative(),
  dir: z.string().min(1),
  token: z.string().min(16),
  peers: z.array(z.object({ id: z.number().int().nonnegative(), path: z.string().min(1).nullable(), channels, every: z.boolean() })),
})
const MeshInterestSchema = z.object({ mid: z.number().int().nonnegative(), add: channels.optional(), every: z.boolean().optional() })

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
  #mesh: IpcMesh | null = null
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
      this.#mesh?.close()
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

  /**
   * Sends room publications to the other workers directly from now on (ipc-mesh.ts), once the
   * primary has given the directory and this worker's socket listens; until then, and whenever a
   * receiver cannot be reached directly, through the primary. Resolves when this worker listens
   * (or could not: it then keeps to the primary, and says why in the log).
   */
  async joinMesh(timings: MeshTimings = {}): Promise<void> {
    const log = timings.log
    if (this.#mesh !== null) return
    const mesh = (this.#mesh = new IpcMesh({ ...timings, deliver: (bytes) => this.#deliver(bytes) }))
    this.answer(MESH_INTEREST, (arg) => {
      const change = MeshInterestSchema.parse(arg)
      mesh.change({ kind: 'interest', id: change.mid, add: change.add, every: change.every })
      return true
    })
    try {
      const joined = MeshJoinedSchema.parse(await this.ask({ op: 'mesh_join' })) as MeshJoined
      await mesh.join(joined)
      await this.ask({ op: 'mesh_up' })
    } catch (err) {
      log?.warn({ err }, 'workers: this worker could not join the mesh; its publications go through the primary')
    }
  }

  /** The mesh's figures (tests, the bench), null without one. */
  get mesh(): { readonly joined: boolean; readonly connected: number; readonly sentDirect: number; readonly fellBack: number; readonly refused: number; readonly held: number; readonly overdue: number } | null {
    return this.#mesh
  }

  /** Sends a room publication directly to the workers that subscribe it: how many, or null when it must go through the primary. */
  sendDirect(channel: string, bytes: string): number | null {
    return this.#mesh?.send(channel, bytes) ?? null
  }

  /** Resolves once the direct publications sent so far are written to their sockets (ipc-mesh.ts `written`). */
  directWritten(): Promise<void> {
    return this.#mesh?.written() ?? Promise.resolve()
  }

  /** Stops sending and receiving directly (the transport closes). */
  closeMesh(): void {
    this.#mesh?.close()
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
    // A request the primary relays: how many messages each worker was sent directly before it, so
    // that each keeps this worker's order (ipc-mesh.ts).
    const d = request.op === 'publish' || request.op === 'append' ? this.#mesh?.requested(id, request.channel) : undefined
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.#batch.push({ ...request, v: 1, id, ...(d !== undefined ? { d } : {}) } as IpcRequest, (err) => {
        this.#pending.delete(id)
        this.#mesh?.answered(id, undefined)
        reject(err)
      })
    })
  }

  #deliver(bytes: string): void {
    for (const l of this.#messageListeners) l(bytes)
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
      if (msg.f !== undefined && this.#mesh !== null) return this.#mesh.relayed(msg.f, msg.d ?? 0, msg.bytes)
      return this.#deliver(msg.bytes)
    }
    if (msg.op === 'ask') return this.#reply(msg.id, msg.name, msg.arg)
    if (msg.op === 'mesh') {
      const mesh = this.#mesh
      if (mesh === null) return
      if (msg.kind === 'peer') mesh.change({ kind: 'peer', id: msg.mid, path: msg.path })
      else if (msg.kind === 'gone') mesh.change({ kind: 'gone', id: msg.mid })
      else mesh.change({ kind: 'interest', id: msg.mid, add: msg.add, remove: msg.remove, every: msg.every })
      return
    }
    this.#mesh?.answered(msg.id, msg.to)
    const pending = this.#pending.get(msg.id)
    if (pending === undefined) return
    this.#pending.delete(msg.id)
    if (msg.op === 'done') pending.resolve(msg.value)
    else pending.reject(new Error(msg.error))
  }
}
