import { ROOM_CHANNEL_PREFIX } from './cluster-channels.js'
import { IpcBatch } from './ipc-batch.js'
import { type IpcAnswer, ipcPayloads, type IpcRequest, IpcRequestSchema } from './ipc-messages.js'
import { MemoryHistory } from './memory-history.js'
import type { Publication } from '../protocol/messages.js'

/** A worker as the primary sees it: a node:cluster Worker (or a forked child in tests). */
export interface IpcPeer {
  readonly isConnected?: () => boolean
  send(message: unknown, sendHandle?: undefined, options?: undefined, callback?: (err: Error | null) => void): boolean
  on(event: 'message', listener: (message: unknown) => void): unknown
  off(event: 'message', listener: (message: unknown) => void): unknown
}

/** What the primary answers to a `call` request (e.g. the metrics of every worker). */
export type IpcCallHandler = (arg: unknown, from: IpcPeer) => unknown

interface Member {
  readonly channels: Set<string>
  everyRoom: boolean
  readonly listener: (message: unknown) => void
  /** What this worker is sent in the current turn, sent as one message at its end. */
  readonly batch: IpcBatch
  /** The primary's asks this worker has not answered yet, by id. */
  readonly asks: Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>
}

/**
 * The primary's side of the ipc transport: relays each publish only to the workers that subscribe
 * its channel (a publication is encoded once per worker by the cluster layer there, and never
 * reaches a worker without subscribers), and holds the service's one history store, so a
 * channel's offsets come from one sequence whichever worker publishes. Appending and relaying
 * happen in one turn of the primary, in the order the requests arrived: every worker sees a
 * channel's publications in offset order. Everything one turn sends a worker (relayed messages,
 * answers, asks) leaves as one batch at the turn's end, in that order (ipc-batch.ts).
 */
export class IpcHub {
  readonly #members = new Map<IpcPeer, Member>()
  readonly #history = new MemoryHistory()
  readonly #calls = new Map<string, IpcCallHandler>()
  #malformed = 0
  #nextAsk = 0

  constructor() {
    this.#history.open()
  }

  /** Requests that failed validation (dropped). */
  get malformed(): number {
    return this.#malformed
  }

  /** Workers attached now. */
  get workers(): number {
    return this.#members.size
  }

  /** Answers `call` requests named `name` with `handler`. */
  handle(name: string, handler: IpcCallHandler): void {
    this.#calls.set(name, handler)
  }

  attach(peer: IpcPeer): void {
    const listener = (raw: unknown) => this.#receive(peer, raw)
    const batch = new IpcBatch(peer, () => peer.isConnected?.() !== false)
    this.#members.set(peer, { channels: new Set(), everyRoom: false, listener, batch, asks: new Map() })
    peer.on('message', listener)
  }

  /** Forgets a worker (it exited): its subscriptions go with it, and what it was asked fails. */
  detach(peer: IpcPeer): void {
    const m = this.#members.get(peer)
    if (m === undefined) return
    peer.off('message', m.listener)
    this.#members.delete(peer)
    m.batch.drop(new Error('the worker is gone'))
    for (const a of m.asks.values()) a.reject(new Error('the worker is gone'))
    m.asks.clear()
  }

  /**
   * Asks one worker `name` (the worker answers through IpcLink.answer); rejects with the
   * worker's error, when it is gone, or when it did not answer within `timeoutMs`.
   */
  ask(peer: IpcPeer, name: string, arg: unknown, timeoutMs: number): Promise<unknown> {
    const m = this.#members.get(peer)
    if (m === undefined || peer.isConnected?.() === false) return Promise.reject(new Error('the worker is not attached'))
    const id = this.#nextAsk++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        m.asks.delete(id)
        reject(new Error(`no answer within ${timeoutMs / 1000} s`))
      }, timeoutMs)
      const settle = <T>(fn: (v: T) => void) => (v: T) => {
        clearTimeout(timer)
        fn(v)
      }
      m.asks.set(id, { resolve: settle(resolve), reject: settle(reject) })
      m.batch.push({ v: 1, op: 'ask', id, name, arg }, (err) => {
        if (!m.asks.has(id)) return
        m.asks.get(id)?.reject(err)
        m.asks.delete(id)
      })
    })
  }

  close(): void {
    for (const peer of [...this.#members.keys()]) this.detach(peer)
    this.#history.close()
  }

  /**
   * Sends `bytes` to every worker subscribed to `channel` but `echoless`; returns how many
   * subscribe, `echoless` included. A plain publish skips its sender: the cluster layer would drop
   * its own echo after decoding it (a stored publication is different: its sender delivers it when
   * it comes back, so `append` sends to every subscriber).
   */
  relay(channel: string, bytes: string, echoless: IpcPeer | null = null): number {
    const room = channel.startsWith(ROOM_CHANNEL_PREFIX)
    let receivers = 0
    const msg: IpcAnswer = { v: 1, op: 'message', bytes }
    for (const [peer, m] of this.#members) {
      if (!(m.channels.has(channel) || (room && m.everyRoom))) continue
      if (peer.isConnected?.() === false) continue
      receivers++
      if (peer !== echoless) m.batch.push(msg)
    }
    return receivers
  }

  /** `send` calls made to `peer` so far and the messages they carried. */
  sentTo(peer: IpcPeer): { readonly sends: number; readonly messages: number } | undefined {
    const b = this.#members.get(peer)?.batch
    return b === undefined ? undefined : { sends: b.sends, messages: b.messages }
  }

  #receive(peer: IpcPeer, raw: unknown): void {
    const payloads = ipcPayloads(raw)
    if (payloads === undefined) return
    for (const payload of payloads) {
      const parsed = IpcRequestSchema.safeParse(payload)
      if (parsed.success) this.#request(peer, parsed.data)
      else this.#malformed++
    }
  }

  #request(peer: IpcPeer, req: IpcRequest): void {
    if (req.op === 'reply' || req.op === 'reply_failed') return this.#replied(peer, req)
    let value: unknown
    try {
      value = this.#serve(peer, req)
    } catch (err) {
      return this.#answer(peer, req.id, Promise.reject(err as Error))
    }
    this.#answer(peer, req.id, value)
  }

  #replied(peer: IpcPeer, req: Extract<IpcRequest, { op: 'reply' | 'reply_failed' }>): void {
    const asks = this.#members.get(peer)?.asks
    const pending = asks?.get(req.id)
    if (pending === undefined) return // answered too late: the ask has timed out
    asks?.delete(req.id)
    if (req.op === 'reply') pending.resolve(req.value)
    else pending.reject(new Error(req.error))
  }

  #serve(peer: IpcPeer, req: Exclude<IpcRequest, { op: 'reply' | 'reply_failed' }>): unknown {
    const m = this.#members.get(peer)
    if (m === undefined) throw new Error('worker not attached')
    switch (req.op) {
      case 'publish':
        return this.relay(req.channel, req.bytes, peer)
      case 'subscribe':
        for (const c of req.channels) m.channels.add(c)
        return true
      case 'subscribe_rooms':
        m.everyRoom = true
        return true
      case 'unsubscribe_rooms':
        m.everyRoom = false
        return true
      case 'unsubscribe':
        m.channels.delete(req.channel)
        return true
      case 'append': {
        const out = { channel: req.channel, head: req.head, send: async (bytes: string) => this.relay(req.channel, bytes) }
        return this.#history.appendAndPublish(req.pub as Publication, req.opts, out)
      }
      case 'read':
        return this.#history.read(req.channel, req.after, req.opts)
      case 'call': {
        const handler = this.#calls.get(req.name)
        if (handler === undefined) throw new Error(`no handler for ${req.name}`)
        return handler(req.arg, peer)
      }
    }
  }

  #answer(peer: IpcPeer, id: number, value: unknown): void {
    const send = (msg: IpcAnswer) => this.#members.get(peer)?.batch.push(msg)
    Promise.resolve(value).then(
      (v) => send({ v: 1, op: 'done', id, value: v }),
      (err: unknown) => send({ v: 1, op: 'failed', id, error: err instanceof Error ? err.message : String(err) }),
    )
  }
}
