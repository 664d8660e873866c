import type { Socket } from 'node:net'
import type { WebSocket } from 'ws'
import type { Identity } from '../auth/identity.js'
import type { CloseCode } from '../protocol/codes.js'
import { textFrame } from './frame.js'
import { tcpSocketOf } from './library-internals.js'
import { corkForTurn, flushNow } from './write-coalescer.js'

const OPEN = 1
/** A ping frame with no payload (RFC 6455 §5.5.2: FIN, opcode 9, unmasked, length 0). */
const PING_FRAME = Buffer.from([0x89, 0x00])
/** How long the outbound backlog may stay over max_buffered_bytes before the client counts as slow. */
const SLOW_GRACE_MS = 1000
/** A backlog this many times max_buffered_bytes is slow at once: the hard bound on memory per client. */
const HARD_LIMIT_FACTOR = 2

/** One client connection: bounded send, heartbeat state, identity, subscriptions. */
export class Connection {
  readonly id: string
  readonly socket: WebSocket
  readonly remoteAddress: string
  readonly connectedAt: number
  readonly secure: boolean
  /** Whether the upgrade passed the access policy's protected-route check (loopback or API key): may observe (docs/protocol.md A.9). */
  readonly operator: boolean
  /** Made with the first subscription: most connections of a reconnect storm never subscribe. */
  #subscriptions: Set<string> | null = null
  identity: Identity | null = null
  /** `auth`: waiting for the first frame to authenticate; `open`: normal; `closing`: close sent, or the socket closed. */
  phase: 'auth' | 'open' | 'closing' = 'open'
  /** Time of the last frame from the client (ms): the flat dialect's silence. */
  lastSeen: number
  /** When the outstanding protocol ping was sent, or 0 when none is outstanding. */
  pingSentAt = 0
  /**
   * Time of the last protocol pong (ms), or of the connect: the only proof that the client still
   * receives. Frames from the client are not: they prove the client→server direction alone.
   */
  lastPong: number
  readonly #maxBuffered: number
  readonly #onSlow: (conn: Connection) => void
  /** When the backlog was first seen over the limit (ms), or 0 while it is under. */
  #overSince = 0
  /**
   * Frames queued while the welcome waits for the broker (holdUntilWelcome): they follow the
   * welcome, in order. Null the rest of the time (the common case: the welcome goes at once).
   */
  #beforeWelcome: Buffer[] | null = null
  #beforeWelcomeBytes = 0

  constructor(opts: {
    id: string
    socket: WebSocket
    remoteAddress: string
    secure: boolean
    operator?: boolean
    maxBuffered: number
    onSlow: (conn: Connection) => void
  }) {
    this.id = opts.id
    this.socket = opts.socket
    this.remoteAddress = opts.remoteAddress
    this.secure = opts.secure
    this.operator = opts.operator ?? false
    this.connectedAt = Date.now()
    this.lastSeen = this.connectedAt
    this.lastPong = this.connectedAt
    this.#maxBuffered = opts.maxBuffered
    this.#onSlow = opts.onSlow
  }

  /** The channels this connection is subscribed to (RoomRegistry keeps it). */
  get subscriptions(): Set<string> {
    return (this.#subscriptions ??= new Set())
  }

  /** How many channels it is subscribed to, without making the set of a connection that has none. */
  get subscriptionCount(): number {
    return this.#subscriptions === null ? 0 : this.#subscriptions.size
  }

  /**
   * Queues one frame. A client whose backlog stays over max_buffered_bytes for SLOW_GRACE_MS, or
   * reaches HARD_LIMIT_FACTOR times it, is closed as a slow consumer instead: its backlog never
   * slows anyone else. One large frame to an idle client is not slowness: an empty backlog always
   * takes the frame. Returns whether it was queued.
   */
  send(data: Buffer | string): boolean {
    const ws = this.socket
    if (ws.readyState !== OPEN || this.phase === 'closing') return false
    if (this.#beforeWelcome !== null) return this.sendFramed(textFrame(typeof data === 'string' ? data : data.toString()))
    const raw = this.#tcp()
    // A text frame framed here is one buffer and one write; ws.send would copy the string, then
    // write header and payload as two (a welcome, a response: most of what one connection costs).
    if (typeof data === 'string' && raw !== undefined) return this.sendFramed(textFrame(data))
    if (!this.#admits(data.length)) return false
    if (raw !== undefined) corkForTurn(raw)
    // A broadcast arrives as a Buffer (encoded once for every subscriber): still a JSON text frame.
    ws.send(data, { binary: false })
    return true
  }

  /** The slow-consumer policy for one more frame of `length` bytes; calls onSlow and returns false when the client is slow. */
  #admits(length: number): boolean {
    let buffered = this.socket.bufferedAmount
    if (buffered > 0 && buffered + length > this.#maxBuffered) {
      // A burst in one turn sits in our cork, not in the client's lap: flush it, then judge.
      const raw = this.#tcp()
      if (raw !== undefined) flushNow(raw)
      buffered = this.socket.bufferedAmount
    }
    if (buffered === 0 || buffered + length <= this.#maxBuffered) {
      this.#overSince = 0
      return true
    }
    const now = Date.now()
    if (this.#overSince === 0) this.#overSince = now
    if (buffered < this.#maxBuffered * HARD_LIMIT_FACTOR && now - this.#overSince < SLOW_GRACE_MS) return true
    this.#onSlow(this)
    return false
  }

  /**
   * Queues one frame already framed by textFrame (frame.ts), under the same slow-consumer policy
   * as send(). The bytes go straight to the TCP socket: ws's sender only queues frames of its
   * own while compressing or reading a Blob, and roomcast does neither (permessage-deflate is
   * off), so frame order is kept.
   */
  sendFramed(frame: Buffer): boolean {
    const ws = this.socket
    if (ws.readyState !== OPEN || this.phase === 'closing') return false
    if (this.#beforeWelcome !== null) return this.#holdForWelcome(frame)
    if (!this.#admits(frame.length)) return false
    const raw = this.#tcp()
    if (raw === undefined) return false
    corkForTurn(raw)
    raw.write(frame)
    return true
  }

  /**
   * From now until welcome(), frames queue behind the welcome instead of going out (the events of
   * rooms it joined, a direct message, a keepalive ping): the welcome stays the first frame.
   */
  holdUntilWelcome(): void {
    this.#beforeWelcome ??= []
  }

  /** Sends the welcome, then what was queued behind it; false when the connection is gone. */
  welcome(text: string): boolean {
    const held = this.#beforeWelcome
    this.#beforeWelcome = null
    this.#beforeWelcomeBytes = 0
    const ok = this.send(text)
    if (ok && held !== null) for (const frame of held) if (!this.sendFramed(frame)) break
    return ok
  }

  /** A frame queued behind the welcome, under the same bound as the send buffer: past max_buffered_bytes the client is slow. */
  #holdForWelcome(frame: Buffer): boolean {
    const held = this.#beforeWelcome as Buffer[]
    this.#beforeWelcomeBytes += frame.length
    if (this.#beforeWelcomeBytes > this.#maxBuffered) {
      this.#beforeWelcome = null
      this.#onSlow(this)
      return false
    }
    held.push(frame)
    return true
  }

  /**
   * Sends a WebSocket ping (empty payload): the same two bytes, framed once, for every
   * connection, written straight to the TCP socket (ws.ping would frame and copy them each time).
   */
  ping(): void {
    if (this.socket.readyState !== OPEN) return
    const raw = this.#tcp()
    if (raw === undefined) this.socket.ping()
    else raw.write(PING_FRAME)
  }

  /** The TCP socket under the WebSocket, or undefined once it is gone. */
  #tcp(): Socket | undefined {
    return tcpSocketOf(this.socket)
  }

  /**
   * Ends the connection at the TCP level at once, without a close frame, and drops its backlog
   * (the slow-consumer policy: a close frame could only queue behind what the client does not read).
   */
  cut(): void {
    this.phase = 'closing'
    this.socket.terminate()
  }

  /**
   * The socket closed, whichever side closed it (a client's close or reset leaves the phase as it
   * was): nothing more is sent, read or joined for it, and what it held for its welcome is freed.
   */
  closed(): void {
    this.phase = 'closing'
    this.#beforeWelcome = null
    this.#beforeWelcomeBytes = 0
  }

  /** Sends a close frame once; later calls do nothing. */
  close(code: CloseCode, reason: string): void {
    if (this.phase === 'closing') return
    this.phase = 'closing'
    this.socket.close(code, reason)
  }
}
