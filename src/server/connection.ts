import type { Socket } from 'node:net'
import type { WebSocket } from 'ws'
import type { Identity } from '../auth/jwt.js'
import type { CloseCode } from '../protocol/codes.js'
import { TokenBucket } from './rate-limiter.js'
import { corkForTurn } from './write-coalescer.js'

const OPEN = 1

/** One client connection: bounded send, rate limit, heartbeat state, identity, subscriptions. */
export class Connection {
  readonly id: string
  readonly socket: WebSocket
  readonly remoteAddress: string
  readonly connectedAt: number
  readonly secure: boolean
  readonly subscriptions = new Set<string>()
  readonly bucket: TokenBucket
  identity: Identity | null = null
  /** `auth`: waiting for the first frame to authenticate; `open`: normal; `closing`: close sent. */
  phase: 'auth' | 'open' | 'closing' = 'open'
  /** Time of the last frame or pong from the client (ms). */
  lastSeen: number
  /** When the outstanding protocol ping was sent, or 0 when none is outstanding. */
  pingSentAt = 0
  readonly #maxBuffered: number
  readonly #onSlow: (conn: Connection) => void

  constructor(opts: {
    id: string
    socket: WebSocket
    remoteAddress: string
    secure: boolean
    rate: number
    maxBuffered: number
    onSlow: (conn: Connection) => void
  }) {
    this.id = opts.id
    this.socket = opts.socket
    this.remoteAddress = opts.remoteAddress
    this.secure = opts.secure
    this.connectedAt = Date.now()
    this.lastSeen = this.connectedAt
    this.bucket = new TokenBucket(opts.rate, this.connectedAt)
    this.#maxBuffered = opts.maxBuffered
    this.#onSlow = opts.onSlow
  }

  /**
   * Queues one frame. A client whose outbound buffer would pass max_buffered_bytes is closed as
   * a slow consumer instead: its backlog never slows anyone else. Returns whether it was queued.
   */
  send(data: Buffer | string): boolean {
    const ws = this.socket
    if (ws.readyState !== OPEN || this.phase === 'closing') return false
    if (ws.bufferedAmount + data.length > this.#maxBuffered) {
      this.#onSlow(this)
      return false
    }
    const raw = (ws as unknown as { _socket?: Socket })._socket
    if (raw !== undefined) corkForTurn(raw)
    // A broadcast arrives as a Buffer (encoded once for every subscriber): still a JSON text frame.
    ws.send(data, { binary: false })
    return true
  }

  /** Sends a close frame once; later calls do nothing. */
  close(code: CloseCode, reason: string): void {
    if (this.phase === 'closing') return
    this.phase = 'closing'
    this.socket.close(code, reason)
  }
}
