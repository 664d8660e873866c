import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { readdir, rm, stat } from 'node:fs/promises'
import { createConnection } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOM_CHANNEL_PREFIX } from './cluster-channels.js'
import { IpcBatch } from './ipc-batch.js'
import type { MeshJoined } from './ipc-mesh.js'
import { type IpcAnswer, ipcPayloads, type IpcRequest, IpcRequestSchema, MESH_INTEREST } from './ipc-messages.js'
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

/** How long a subscribe waits for each worker in the mesh to apply it (a cluster subscribe's own bound, ClusterTimings). */
const INTEREST_TIMEOUT_MS = 1000

interface Member {
  /** Its id in the mesh (ipc-mesh.ts): a restarted worker is a new member. */
  readonly id: number
  /** It sends room publications directly: it is told every change of the directory. */
  joined: boolean
  /** Its mesh socket, once it listens. */
  path: string | null
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
  #nextMember = 0
  /** Where the workers' mesh sockets live (a directory only this user enters) and their shared secret. */
  #mesh: { readonly dir: string; readonly token: string } | null = null

  constructor() {
    this.#history.open()
  }

  /** Requests that failed validation (dropped). */
  get malformed(): number {
    return this.#malformed
  }

  /** Where the workers' mesh sockets are (null until one joins). */
  get meshDir(): string | null {
    return this.#mesh?.dir ?? null
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
    this.#members.set(peer, { id: this.#nextMember++, joined: false, path: null, channels: new Set(), everyRoom: false, listener, batch, asks: new Map() })
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
    // After everything it had relayed to them: they release what they held behind it.
    this.#tellMesh(m, { v: 1, op: 'mesh', kind: 'gone', mid: m.id })
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
    if (this.#mesh !== null) removeMeshDirectory(this.#mesh.dir)
    this.#mesh = null
  }

  /**
   * Sends `bytes` to every worker subscribed to `channel` but `echoless`; returns how many
   * subscribe, `echoless` included. A plain publish skips its sender: the cluster layer would drop
   * its own echo after decoding it (a stored publication is different: its sender delivers it when
   * it comes back, so `append` sends to every subscriber). From a worker in the mesh (`origin`),
   * each message says who sent it and how many it had sent that receiver directly before it
   * (`d`), and `to` collects who was sent it.
   */
  relay(channel: string, bytes: string, echoless: IpcPeer | null = null, origin: { readonly id: number; readonly d?: Record<string, number> | undefined } | null = null, to?: number[]): number {
    const room = channel.startsWith(ROOM_CHANNEL_PREFIX)
    let receivers = 0
    const plain: IpcAnswer = { v: 1, op: 'message', bytes }
    for (const [peer, m] of this.#members) {
      if (!(m.channels.has(channel) || (room && m.everyRoom))) continue
      if (peer.isConnected?.() === false) continue
      receivers++
      if (peer === echoless) continue
      if (origin === null) m.batch.push(plain)
      else {
        m.batch.push({ v: 1, op: 'message', bytes, f: origin.id, d: origin.d?.[m.id] ?? 0 })
        to?.push(m.id)
      }
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
    // A relaying request of a worker in the mesh: its answer says whom it reached (ipc-mesh.ts).
    const to = (req.op === 'publish' || req.op === 'append') && this.#members.get(peer)?.joined === true ? [] : undefined
    let value: unknown
    try {
      value = this.#serve(peer, req, to)
    } catch (err) {
      return this.#answer(peer, req.id, Promise.reject(err as Error), to)
    }
    this.#answer(peer, req.id, value, to)
  }

  #replied(peer: IpcPeer, req: Extract<IpcRequest, { op: 'reply' | 'reply_failed' }>): void {
    const asks = this.#members.get(peer)?.asks
    const pending = asks?.get(req.id)
    if (pending === undefined) return // answered too late: the ask has timed out
    asks?.delete(req.id)
    if (req.op === 'reply') pending.resolve(req.value)
    else pending.reject(new Error(req.error))
  }

  #serve(peer: IpcPeer, req: Exclude<IpcRequest, { op: 'reply' | 'reply_failed' }>, to: number[] | undefined): unknown {
    const m = this.#members.get(peer)
    if (m === undefined) throw new Error('worker not attached')
    const origin = m.joined ? { id: m.id, d: 'd' in req ? req.d : undefined } : null
    switch (req.op) {
      case 'publish':
        return this.relay(req.channel, req.bytes, peer, origin, to)
      case 'subscribe': {
        const added = req.channels.filter((c) => !m.channels.has(c))
        for (const c of added) m.channels.add(c)
        return added.length === 0 ? true : this.#interest(m, { add: added })
      }
      case 'subscribe_rooms':
        if (m.everyRoom) return true
        m.everyRoom = true
        return this.#interest(m, { every: true })
      case 'unsubscribe_rooms':
        m.everyRoom = false
        this.#tellMesh(m, { v: 1, op: 'mesh', kind: 'interest', mid: m.id, every: false })
        return true
      case 'unsubscribe':
        if (m.channels.delete(req.channel)) this.#tellMesh(m, { v: 1, op: 'mesh', kind: 'interest', mid: m.id, remove: [req.channel] })
        return true
      case 'append': {
        const out = { channel: req.channel, head: req.head, send: async (bytes: string) => this.relay(req.channel, bytes, null, origin, to) }
        return this.#history.appendAndPublish(req.pub as Publication, req.opts, out)
      }
      case 'mesh_join':
        return this.#join(m)
      case 'mesh_up': {
        const mesh = this.#mesh
        if (mesh === null || !m.joined) throw new Error('not in the mesh')
        m.path = join(mesh.dir, `${m.id}.sock`)
        this.#tellMesh(m, { v: 1, op: 'mesh', kind: 'peer', mid: m.id, path: m.path })
        return true
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

  #answer(peer: IpcPeer, id: number, value: unknown, to?: number[]): void {
    const send = (msg: IpcAnswer) => this.#members.get(peer)?.batch.push(msg)
    const reached = to === undefined ? {} : { to }
    Promise.resolve(value).then(
      (v) => send({ v: 1, op: 'done', id, value: v, ...reached }),
      (err: unknown) => send({ v: 1, op: 'failed', id, error: err instanceof Error ? err.message : String(err), ...reached }),
    )
  }

  /** A worker joins the mesh: where sockets live, the secret, and every other worker as it is now. */
  #join(m: Member): MeshJoined {
    this.#mesh ??= { dir: meshDirectory(), token: randomBytes(24).toString('hex') }
    m.joined = true
    const peers = [...this.#members.values()].filter((o) => o !== m).map((o) => ({ id: o.id, path: o.path, channels: [...o.channels], every: o.everyRoom }))
    return { id: m.id, dir: this.#mesh.dir, token: this.#mesh.token, peers }
  }

  /**
   * Another worker subscribed more: every worker in the mesh applies it before the subscribe is
   * answered, so a publication sent directly after that answer reaches it. A worker that does not
   * answer within INTEREST_TIMEOUT_MS (hung) is not waited for longer, as a cluster subscribe's own
   * wait is bounded.
   */
  #interest(m: Member, change: { readonly add?: readonly string[]; readonly every?: boolean }): true | Promise<true> {
    const waits = [...this.#meshOthers(m)].map(([peer]) => this.ask(peer, MESH_INTEREST, { mid: m.id, ...change }, INTEREST_TIMEOUT_MS).catch(() => undefined))
    return waits.length === 0 ? true : Promise.all(waits).then(() => true)
  }

  /** Tells every other worker in the mesh `msg` (after what they were sent before). */
  #tellMesh(m: Member, msg: IpcAnswer): void {
    for (const [, o] of this.#meshOthers(m)) o.batch.push(msg)
  }

  /** The workers in the mesh other than `m` that can be sent something now. */
  *#meshOthers(m: Member): Iterable<[IpcPeer, Member]> {
    for (const [peer, o] of this.#members) if (o !== m && o.joined && peer.isConnected?.() !== false) yield [peer, o]
  }
}

const MESH_PREFIX = 'roomcast-mesh-'
/** Mesh directories of this process, removed at its exit if not before. */
const ownDirectories = new Set<string>()
let exitHook = false

/**
 * A new directory for the mesh's sockets, made by mkdtemp (0700: only this user can reach the
 * sockets in it) and named after this process. Those a killed primary of this user left behind
 * are removed in the background (sweepMeshDirectories).
 */
function meshDirectory(): string {
  const base = tmpdir()
  const dir = mkdtempSync(join(base, `${MESH_PREFIX}${process.pid}-`))
  if (!exitHook) process.once('exit', () => ownDirectories.forEach(removeMeshDirectory))
  exitHook = true
  ownDirectories.add(dir)
  void sweepMeshDirectories(base).catch(() => {})
  return dir
}

/**
 * Removes the mesh directories of this user whose primary is gone: its pid does not run here, and
 * none of its sockets accepts a connection (another pid namespace sharing the directory may run a
 * primary of that pid: its workers still listen). Only tidying: what it cannot read or remove stays.
 */
async function sweepMeshDirectories(base: string): Promise<void> {
  const pattern = new RegExp(`^${MESH_PREFIX}(\\d+)-`)
  for (const name of await readdir(base)) {
    const pid = pattern.exec(name)?.[1]
    if (pid === undefined || Number(pid) === process.pid || alive(Number(pid))) continue
    const path = join(base, name)
    try {
      if ((await stat(path)).uid !== process.getuid?.()) continue
      const sockets = (await readdir(path)).filter((f) => f.endsWith('.sock'))
      const answers = await Promise.all(sockets.map((f) => accepts(join(path, f))))
      if (!answers.includes(true)) await rm(path, { recursive: true, force: true })
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
}

/** Whether something listens on the Unix socket at `path`. */
function accepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(path)
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

function removeMeshDirectory(dir: string): void {
  ownDirectories.delete(dir)
  rmSync(dir, { recursive: true, force: true })
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
