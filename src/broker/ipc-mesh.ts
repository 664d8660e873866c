import { timingSafeEqual } from 'node:crypto'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { ROOM_CHANNEL_PREFIX } from './cluster-channels.js'

/** A worker as the primary describes it to the others (ipc-hub.ts): where it listens once it does, what it subscribes. */
export interface MeshPeer {
  readonly id: number
  readonly path: string | null
  readonly channels: readonly string[]
  readonly every: boolean
}

/** What the primary answers a worker joining the mesh: its own id, where sockets live, the shared secret, every other worker. */
export interface MeshJoined {
  readonly id: number
  readonly dir: string
  readonly token: string
  readonly peers: readonly MeshPeer[]
}

/** A change to the directory, pushed by the primary in the order it happened. */
export type MeshChange =
  | { readonly kind: 'peer'; readonly id: number; readonly path: string }
  | { readonly kind: 'gone'; readonly id: number }
  | { readonly kind: 'interest'; readonly id: number; readonly add?: readonly string[]; readonly remove?: readonly string[]; readonly every?: boolean }

/** A frame on a mesh socket: 4 bytes of payload length, 4 bytes of `after`, then the payload (UTF-8). */
const HEADER = 8
/** Anything longer is not from a worker of ours: the connection is dropped. */
const MAX_FRAME = 64 * 1024 * 1024
/** A hello is an id and a secret: a longer first frame is not one. */
const MAX_HELLO = 256
/** How long messages held behind a gone worker's missing ones wait for its socket to end. */
const GONE_WAIT_MS = 1000
/**
 * The longest a message is held for what its sender sent before it the other way. Past it, what
 * did not come is taken as lost and the rest goes out (counted in `overdue`, logged): no bookkeeping
 * slip, and no worker of ours gone wrong, can hold messages for good.
 */
const HOLD_MAX_MS = 2000
/** A connection that has not said who it is within this long is not one of ours: dropped. */
const HELLO_TIMEOUT_MS = 10_000

interface Outgoing {
  readonly id: number
  channels: Set<string>
  every: boolean
  socket: Socket | null
  /** Frames of this turn, written as one at its end. */
  queue: Buffer[]
  /** Messages sent to this worker directly. */
  direct: number
  /** This worker's messages the primary relayed to it (from the primary's answers). */
  relayed: number
  /** Requests of ours the primary has not answered that may relay something to it. */
  inFlight: number
}

interface Origin {
  /** Messages of this origin delivered, by the way they came. */
  direct: number
  relayed: number
  /** Held until the other way has delivered what the origin sent before them. */
  readonly heldDirect: { readonly after: number; readonly bytes: string }[]
  readonly heldRelayed: { readonly after: number; readonly bytes: string }[]
  /** The primary said it is gone. */
  gone: boolean
  /** Set while something is held: HOLD_MAX_MS. */
  holdTimer: NodeJS.Timeout | null
  /** Gone and what was held released: what still comes is delivered at once. */
  free: boolean
  /** Its socket to us has ended: every direct frame it sent has been read. */
  ended: boolean
  timer: NodeJS.Timeout | null
}

/** How the mesh waits (tests shorten them). */
export interface MeshTimings {
  readonly log?: Logger
  /** @default HOLD_MAX_MS */
  readonly holdMaxMs?: number
  /** @default HELLO_TIMEOUT_MS */
  readonly helloTimeoutMs?: number
}

export interface IpcMeshOptions extends MeshTimings {
  /** Hands a cluster message to the transport, in its origin's order. */
  readonly deliver: (bytes: string) => void
}

/**
 * The workers of one service sending room publications to each other directly, over Unix sockets
 * in a directory only the service's user can enter, instead of through the primary (which then
 * wakes for nothing but subscriptions, history and control messages).
 *
 * The primary stays the one authority: it keeps every worker's subscriptions and tells the
 * others (a subscribe is answered only once every worker has applied it, ipc-hub.ts), so a
 * publication sent directly reaches exactly the workers the primary would have relayed it to.
 * A worker falls back to the primary for a publication whenever one of its receivers cannot be
 * reached directly yet (its socket is not up) or may still be sent something of ours by the
 * primary (a stored publication, a heartbeat, a fallback publish in flight).
 *
 * One order per sender at each receiver, whichever way each message came: a direct frame carries
 * how many of the sender's messages the primary had relayed to the receiver before it (`after`,
 * from the primary's answers), and a relayed message carries how many the sender had sent the
 * receiver directly before it (the primary copies it from the request). The receiver holds a
 * message until the other way has delivered that many, so per sender nothing overtakes what was
 * sent before it. A sender that is gone releases what is held behind it once its socket has
 * ended (its last frames are read first).
 */
export class IpcMesh {
  readonly #opts: IpcMeshOptions
  readonly #peers = new Map<number, Outgoing>()
  readonly #origins = new Map<number, Origin>()
  /**
   * Per unanswered request: its channel and the workers counted in `inFlight` for it, those the
   * primary may relay it to, including any we hear of (or hear subscribe it) before its answer.
   */
  readonly #requests = new Map<number, { readonly channel: string; readonly reached: Outgoing[] }>()
  readonly #accepted = new Set<Socket>()
  /** Workers the primary said are gone: a late answer naming one does not bring it back. */
  readonly #goneIds = new Set<number>()
  #joined: MeshJoined | null = null
  /** Directory changes read before the join's answer was taken in (ipc-link.ts reads a batch before its promises run). */
  readonly #early: MeshChange[] = []
  #server: Server | null = null
  #closed = false
  #flush: NodeJS.Immediate | null = null
  readonly #dirty = new Set<Outgoing>()
  /** What this turn sent is written to the sockets at its end: `written` resolves then. */
  #turn: { readonly promise: Promise<void>; readonly resolve: () => void } | null = null
  /** Frames refused (bad secret, too long, before the hello) and the connections dropped for them. */
  refused = 0
  /** Messages released after HOLD_MAX_MS without what they waited for. */
  overdue = 0
  /** Publications sent directly, and those that went through the primary while the mesh was up. */
  sentDirect = 0
  fellBack = 0

  constructor(opts: IpcMeshOptions) {
    this.#opts = opts
  }

  /** Other workers this one has a socket to. */
  get connected(): number {
    let n = 0
    for (const out of this.#peers.values()) if (out.socket !== null && !out.socket.connecting && !out.socket.destroyed) n++
    return n
  }

  /** Messages read and held now, until what their sender sent before them has come the other way. */
  get held(): number {
    let n = 0
    for (const o of this.#origins.values()) n += o.heldDirect.length + o.heldRelayed.length
    return n
  }

  /** Whether this worker has joined (publications may go directly). */
  get joined(): boolean {
    return this.#joined !== null && !this.#closed
  }

  /** The primary's answer to our join: the directory, then listening (resolves with our socket's path). */
  async join(joined: MeshJoined): Promise<string> {
    if (this.#closed) throw new Error('the mesh is closed')
    this.#joined = joined
    // Counted for us by an answer that came before this one was read.
    this.#peers.delete(joined.id)
    for (const p of joined.peers) {
      if (p.id === joined.id) continue
      const out = this.#peer(p.id)
      out.channels = new Set(p.channels)
      out.every = p.every
      this.#reaching(out)
      if (p.path !== null) this.#connect(out, p.path)
    }
    // Changes the primary made after it answered the join, read before the answer was taken in.
    for (const c of this.#early.splice(0)) this.change(c)
    const path = join(joined.dir, `${joined.id}.sock`)
    const server = (this.#server = createServer((socket) => this.#accept(socket)))
    server.unref()
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      // exclusive: a cluster worker listens itself (a shared listen would be opened by the primary).
      server.listen({ path, exclusive: true }, () => {
        server.off('error', reject)
        resolve()
      })
    })
    server.on('error', (err) => this.#opts.log?.warn({ err }, 'mesh listener error'))
    return path
  }

  /** A directory change from the primary. */
  change(c: MeshChange): void {
    // Read before the join's answer was taken in (they came in one batch): after the directory it gives.
    if (this.#joined === null) return void this.#early.push(c)
    if (c.kind === 'gone') return this.#gone(c.id)
    if (c.id === this.#joined.id || this.#goneIds.has(c.id)) return
    const out = this.#peer(c.id)
    if (c.kind === 'peer') return this.#connect(out, c.path)
    for (const ch of c.add ?? []) out.channels.add(ch)
    for (const ch of c.remove ?? []) out.channels.delete(ch)
    if (c.every !== undefined) out.every = c.every
    this.#reaching(out)
  }

  /**
   * Sends a room publication directly to every worker that subscribes its channel; returns how
   * many that was, or null when it must go through the primary (not a room channel, not joined,
   * or a receiver not reachable directly or still owed something through the primary).
   */
  send(channel: string, bytes: string): number | null {
    if (!this.joined || !channel.startsWith(ROOM_CHANNEL_PREFIX)) return null
    let n = 0
    for (const out of this.#peers.values()) {
      if (!reaches(out, channel)) continue
      // Not connected yet: what is written before a connect fails is lost, yet would be counted.
      if (out.socket === null || out.socket.connecting || out.socket.destroyed || out.inFlight > 0) {
        this.fellBack++
        return null
      }
      n++
    }
    if (n === 0) return 0
    // Encoded once; each receiver gets its own header in front of the same bytes.
    const body = Buffer.from(bytes)
    for (const out of this.#peers.values()) {
      if (!reaches(out, channel)) continue
      out.queue.push(frameHeader(out.relayed, body.length), body)
      out.direct++
      this.#dirty.add(out)
    }
    this.sentDirect++
    this.#flush ??= setImmediate(() => this.#write())
    if (this.#turn === null) {
      let resolve = () => {}
      const promise = new Promise<void>((r) => (resolve = r))
      this.#turn = { promise, resolve }
    }
    return n
  }

  /**
   * Resolves once what `send` sent so far has been written to its sockets (at the turn's end):
   * before, it is in this process only, and a worker killed then would lose it although it was
   * answered as published. A socket's write goes to the operating system at once unless the
   * socket is backed up (its receiver hung): not waited for, as the primary does not wait for a
   * worker either.
   */
  written(): Promise<void> {
    return this.#turn?.promise ?? Promise.resolve()
  }

  /**
   * A request that makes the primary relay (`publish`, `append`) leaves now: what it must carry
   * (how many messages each worker was sent directly), and which workers it may reach counted
   * until its answer.
   */
  requested(id: number, channel: string): Record<string, number> | undefined {
    // Before the join is answered too: the primary may count it as from the mesh already.
    if (this.#closed) return undefined
    const request = { channel, reached: [] as Outgoing[] }
    let d: Record<string, number> | undefined
    for (const out of this.#peers.values()) {
      if (reaches(out, channel)) {
        out.inFlight++
        request.reached.push(out)
      }
      if (out.direct > 0) (d ??= {})[out.id] = out.direct
    }
    this.#requests.set(id, request)
    return d
  }

  /** The primary answered request `id`, having relayed it to the workers `to`. */
  answered(id: number, to: readonly number[] | undefined): void {
    const request = this.#requests.get(id)
    if (request === undefined) return
    this.#requests.delete(id)
    for (const out of request.reached) out.inFlight--
    // Counted for a worker not heard of yet too: its directory entry may come after the relay did.
    for (const w of to ?? []) if (w !== this.#joined?.id && !this.#goneIds.has(w)) this.#peer(w).relayed++
  }

  /** A message the primary relayed from worker `from`, sent after `after` direct ones of its own to us. */
  relayed(from: number, after: number, bytes: string): void {
    const o = this.#origin(from)
    // Its socket to us has ended: what it sent that way has all been read, nothing more will come.
    if (o.free || (o.heldRelayed.length === 0 && (o.direct >= after || o.ended))) {
      o.relayed++
      this.#opts.deliver(bytes)
      return this.#release(o)
    }
    o.heldRelayed.push({ after, bytes })
    this.#holdLimit(o)
  }

  /** Stops: no more sends; sockets and the listener closed (they never keep the process alive). */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#flush !== null) clearImmediate(this.#flush)
    this.#write()
    for (const out of this.#peers.values()) out.socket?.end()
    for (const s of this.#accepted) s.destroy()
    this.#server?.close()
    for (const o of this.#origins.values()) {
      if (o.timer !== null) clearTimeout(o.timer)
      if (o.holdTimer !== null) clearTimeout(o.holdTimer)
    }
  }

  #peer(id: number): Outgoing {
    let out = this.#peers.get(id)
    if (out === undefined) {
      out = { id, channels: new Set(), every: false, socket: null, queue: [], direct: 0, relayed: 0, inFlight: 0 }
      this.#peers.set(id, out)
      this.#reaching(out)
    }
    return out
  }

  /**
   * A worker we just heard of, or heard subscribe more: the requests in flight the primary may
   * relay to it now count for it too (it subscribed before the primary served them), or a direct
   * frame sent before their answer would overtake what they relay.
   */
  #reaching(out: Outgoing): void {
    for (const { channel, reached } of this.#requests.values()) {
      if (reached.includes(out) || !reaches(out, channel)) continue
      out.inFlight++
      reached.push(out)
    }
  }

  #connect(out: Outgoing, path: string): void {
    const joined = this.#joined
    if (out.socket !== null || joined === null || this.#closed) return
    const socket = createConnection(path)
    socket.unref()
    socket.setNoDelay?.(true)
    // The hello first: who we are and the secret; what follows is written in order behind it.
    socket.write(meshFrame(0, JSON.stringify({ id: joined.id, token: joined.token })))
    socket.on('error', (err) => this.#opts.log?.debug({ err: err.message, peer: out.id }, 'mesh socket error'))
    socket.on('close', () => {
      // It is gone (the primary tells us) or stopping: from now on the primary relays what it subscribes.
      if (out.socket === socket) out.socket = null
    })
    out.socket = socket
  }

  #write(): void {
    this.#flush = null
    for (const out of this.#dirty) {
      const q = out.queue
      out.queue = []
      if (out.socket !== null && q.length > 0) out.socket.write(Buffer.concat(q))
    }
    this.#dirty.clear()
    this.#turn?.resolve()
    this.#turn = null
  }

  #accept(socket: Socket): void {
    if (this.#closed) return void socket.destroy()
    socket.unref()
    this.#accepted.add(socket)
    let from: number | null = null
    let buf: Buffer = Buffer.alloc(0)
    const refuse = () => {
      clearTimeout(hello)
      this.refused++
      socket.destroy()
    }
    const hello = setTimeout(refuse, this.#opts.helloTimeoutMs ?? HELLO_TIMEOUT_MS)
    hello.unref()
    socket.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk])
      let at = 0
      while (buf.length - at >= HEADER) {
        const len = buf.readUInt32BE(at)
        if (len > (from === null ? MAX_HELLO : MAX_FRAME)) return refuse()
        if (buf.length - at < HEADER + len) break
        const after = buf.readUInt32BE(at + 4)
        const payload = buf.toString('utf8', at + HEADER, at + HEADER + len)
        at += HEADER + len
        if (from === null) {
          from = this.#hello(payload)
          if (from === null) return refuse()
          clearTimeout(hello)
          continue
        }
        this.#direct(this.#origin(from), after, payload)
      }
      buf = at === buf.length ? Buffer.alloc(0) : buf.subarray(at)
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(hello)
      this.#accepted.delete(socket)
      if (from === null) return
      const id = from
      const o = this.#origin(id)
      o.ended = true
      if (o.free) this.#origins.delete(id)
      else if (o.gone) this.#flushGone(id, o)
      else this.#release(o)
    })
  }

  /** The first frame of a connection: the sender's id, when it knows the secret. */
  #hello(payload: string): number | null {
    const joined = this.#joined
    if (joined === null) return null
    let hello: unknown
    try {
      hello = JSON.parse(payload)
    } catch {
      return null
    }
    if (typeof hello !== 'object' || hello === null) return null
    const { id, token } = hello as Record<string, unknown>
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || typeof token !== 'string') return null
    const a = Buffer.from(token)
    const b = Buffer.from(joined.token)
    return a.length === b.length && timingSafeEqual(a, b) ? id : null
  }

  #direct(o: Origin, after: number, bytes: string): void {
    if (o.free || (o.heldDirect.length === 0 && o.relayed >= after)) {
      o.direct++
      this.#opts.deliver(bytes)
      return this.#release(o)
    }
    o.heldDirect.push({ after, bytes })
    this.#holdLimit(o)
  }

  /** Delivers what the last delivery let through, either way, in order. */
  #release(o: Origin): void {
    for (;;) {
      const d = o.heldDirect[0]
      if (d !== undefined && o.relayed >= d.after) {
        o.heldDirect.shift()
        o.direct++
        this.#opts.deliver(d.bytes)
        continue
      }
      const r = o.heldRelayed[0]
      if (r !== undefined && (o.direct >= r.after || o.ended)) {
        o.heldRelayed.shift()
        o.relayed++
        this.#opts.deliver(r.bytes)
        continue
      }
      if (d === undefined && r === undefined && o.holdTimer !== null) {
        clearTimeout(o.holdTimer)
        o.holdTimer = null
      }
      return
    }
  }

  #holdLimit(o: Origin): void {
    if (o.holdTimer !== null) return
    o.holdTimer = setTimeout(() => {
      o.holdTimer = null
      const held = o.heldDirect.length + o.heldRelayed.length
      this.overdue += held
      this.#opts.log?.warn({ held, direct: o.direct, relayed: o.relayed }, 'mesh: messages held too long for what their sender sent before them; released')
      this.#force(o)
    }, this.#opts.holdMaxMs ?? HOLD_MAX_MS)
    o.holdTimer.unref()
  }

  /** Delivers everything held in the order it can, taking what it waits for as lost. */
  #force(o: Origin): void {
    this.#release(o)
    while (o.heldDirect.length > 0 || o.heldRelayed.length > 0) {
      const r = o.heldRelayed[0]
      if (r !== undefined) o.direct = Math.max(o.direct, r.after)
      else o.relayed = Math.max(o.relayed, (o.heldDirect[0] as { after: number }).after)
      this.#release(o)
    }
  }

  #origin(id: number): Origin {
    let o = this.#origins.get(id)
    if (o === undefined) {
      o = { direct: 0, relayed: 0, heldDirect: [], heldRelayed: [], gone: false, holdTimer: null, free: false, ended: false, timer: null }
      this.#origins.set(id, o)
    }
    return o
  }

  #gone(id: number): void {
    this.#goneIds.add(id)
    const out = this.#peers.get(id)
    if (out !== undefined) {
      out.socket?.destroy()
      this.#peers.delete(id)
      for (const { reached } of this.#requests.values()) {
        const i = reached.indexOf(out)
        if (i >= 0) reached.splice(i, 1)
      }
    }
    const o = this.#origin(id)
    o.gone = true
    // Its last direct frames may still be unread: wait for its socket to end, not longer than GONE_WAIT_MS.
    if (o.ended) return this.#flushGone(id, o)
    o.timer = setTimeout(() => this.#flushGone(id, o), GONE_WAIT_MS)
    o.timer.unref()
  }

  /**
   * A gone origin: what it never sent will not come. What is held goes out in the order it can,
   * skipping the wait for what was lost; anything read after this is delivered as it comes.
   */
  #flushGone(id: number, o: Origin): void {
    if (o.timer !== null) clearTimeout(o.timer)
    o.timer = null
    o.free = true
    this.#force(o)
    if (o.ended && this.#origins.get(id) === o) this.#origins.delete(id)
  }
}

/** Whether the primary may relay a message on `channel` to `out`. */
function reaches(out: Outgoing, channel: string): boolean {
  return !channel.startsWith(ROOM_CHANNEL_PREFIX) || out.every || out.channels.has(channel)
}

function frameHeader(after: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(HEADER)
  b.writeUInt32BE(length, 0)
  b.writeUInt32BE(after >>> 0, 4)
  return b
}

/** One frame as it goes on a mesh socket: its length, `after`, then `payload` in UTF-8 (the tests forge with it too). */
export function meshFrame(after: number, payload: string): Buffer {
  const body = Buffer.from(payload)
  return Buffer.concat([frameHeader(after, body.length), body])
}
