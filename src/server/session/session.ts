import type { WebSocket } from 'ws'
import type { Identity } from '../../auth/identity.js'
import { ErrorCode } from '../../protocol/codes.js'
import type { Inbound, RawFrame, ReplyTo } from '../../protocol/messages.js'
import type { Connection } from '../connection.js'
import { frameShapeLimits, InboundBudget } from '../inbound-budget.js'
import { destinations, OrderedAnswers, runRequest } from './answer.js'
import { FirstFrameAuth } from './first-frame-auth.js'
import type { SessionHost } from './host.js'
import { SessionAuth } from './session-auth.js'
import { tokenRequired } from '../../auth/token-policy.js'

const kSession = Symbol('roomcast.session')
type WithSession = WebSocket & { [kSession]?: Session }

/** The session reading `socket`, once Session.start ran. */
export function sessionOf(socket: WebSocket): Session | undefined {
  return (socket as WithSession)[kSession]
}

// The socket listeners, shared by every session (a connection costs no closures for them).
function onMessage(this: WebSocket, raw: RawFrame): void {
  ;(this as WithSession)[kSession]?.frame(raw)
}

// A protocol pong proves the client still receives (the keepalive's proof); it is not a frame
// of the client's own, so it leaves lastSeen (the flat dialect's silence) alone.
function onPong(this: WebSocket): void {
  const conn = (this as WithSession)[kSession]?.conn
  if (conn === undefined) return
  conn.lastPong = Date.now()
  conn.pingSentAt = 0
}

/**
 * One connection's protocol: admit → auth → dispatch, with its rate budget and heartbeat
 * bookkeeping. The server keeps the lifecycle (accepting, capacity, cleanup, drain); the session
 * only talks to it through SessionHost.
 */
export class Session {
  readonly conn: Connection
  readonly #host: SessionHost
  // Made with the first frame, request or credentials that needs them: most connections of a
  // reconnect storm are silent, and each object a held connection keeps costs heap and GC work.
  #answers: OrderedAnswers | null = null
  #budget: InboundBudget | null = null
  #authState: SessionAuth | null = null
  /** The envelope's first-frame phase, while it lasts. */
  #firstFrame: FirstFrameAuth | null = null
  /** Set while the socket is not read because the client spent its byte budget. */
  #resume: NodeJS.Timeout | null = null
  /** Frames read while the welcome waits for the broker (the socket is paused meanwhile): handled after it. */
  #beforeWelcome: RawFrame[] | null = null

  constructor(host: SessionHost, conn: Connection) {
    this.#host = host
    this.conn = conn
  }

  /** Answers to this connection's requests, kept in request order. */
  get answers(): OrderedAnswers {
    return (this.#answers ??= new OrderedAnswers())
  }

  /** The connection's authentication; a service that requires none makes it with the first credentials. */
  get #auth(): SessionAuth {
    return (this.#authState ??= new SessionAuth(this, this.#host))
  }

  /** Listens to the socket, then either waits for the auth frame or welcomes at once. */
  start(upgradeUrl: string | undefined): void {
    const socket = this.conn.socket
    ;(socket as WithSession)[kSession] = this
    socket.on('message', onMessage)
    socket.on('pong', onPong)
    const host = this.#host
    // Only a locked service arms a deadline at the start (SessionAuth.start).
    if (tokenRequired(host.settings)) this.#auth.start()
    if (host.dialect.authFirst(host.settings)) {
      this.#firstFrame = new FirstFrameAuth(this, host, this.#auth)
      return
    }
    this.#welcome()
    // Credentials come from the query string only: most upgrades have none, and parsing a URL
    // is a noticeable part of what a connection costs in a reconnect storm.
    if (upgradeUrl === undefined || !upgradeUrl.includes('?')) return
    const credentials = host.dialect.upgradeCredentials(new URL(upgradeUrl, 'http://localhost'))
    if (credentials !== null) this.#auth.upgrade(credentials)
  }

  /** The connection closed: stop every timer of this session. */
  end(): void {
    this.#authState?.end()
    if (this.#resume !== null) clearTimeout(this.#resume)
  }

  /** One raw frame from the client: rate budget → decode → auth phase or dispatch. */
  frame(raw: RawFrame): void {
    const conn = this.conn
    const now = Date.now()
    conn.lastSeen = now
    if (conn.phase === 'closing') return
    if (this.#beforeWelcome !== null) return void this.#beforeWelcome.push(raw)
    const host = this.#host
    const stats = host.stats
    // Frames and bytes are paid for before a frame is decoded: a refusal costs nothing.
    // Full at the connect, as if made then: a bucket refills from its start time.
    const budget = (this.#budget ??= new InboundBudget(host.settings, conn.connectedAt))
    const refusal = budget.admit(typeof raw === 'string' ? Buffer.byteLength(raw) : raw.byteLength, now)
    if (refusal !== null) {
      stats.rateLimited++
      stats.countIn('rate_limited')
      this.sendError(refusal.code, refusal.message, null)
      if (refusal.pauseMs > 0) this.#pauseReading(refusal.pauseMs)
      return
    }
    const debtMs = budget.debtMs()
    if (debtMs > 0) this.#pauseReading(debtMs)
    const msg = host.dialect.codec.decode(raw, frameShapeLimits(host.settings))
    if (this.#firstFrame !== null) {
      stats.countIn(msg.kind === 'request' ? 'request' : msg.kind)
      this.#firstFrame.frame(msg)
      return
    }
    this.dispatch(msg)
  }

  /** Handles one decoded frame of an admitted connection. */
  dispatch(msg: Inbound): void {
    const host = this.#host
    switch (msg.kind) {
      case 'invalid':
        host.stats.countIn('invalid')
        this.sendError(ErrorCode.DECODE_ERROR, msg.message, null)
        return
      case 'ping':
        host.stats.countIn('ping')
        this.send('pong', host.dialect.codec.encodePong(msg))
        return
      case 'ack':
        host.stats.countIn('ack')
        // docs/protocol.md A.8: an ack naming no event pending for this connection (unknown, foreign,
        // already settled, or no string id at all) is counted, never answered: clients that ack
        // everything, as the Python ones may, must not get error frames for it.
        for (const id of msg.messageIds) host.delivery.ack(this.conn, id)
        return
      case 'ignored':
        host.stats.countIn('ignored')
        return
      case 'request':
        if (msg.op === 'auth') {
          host.stats.countIn('auth')
          this.#auth.request(msg.data, msg)
          return
        }
        host.stats.countIn(msg.op !== null && host.requests.has(msg.op) ? msg.op : 'unknown_request')
        runRequest(this, host, msg.op, msg.data, msg)
    }
  }

  /** Sends one encoded frame and counts it. */
  send(type: string, frame: string): void {
    if (this.conn.send(frame)) this.#host.stats.countOut(type)
  }

  /** Sends an error (of a request when `reply` is given) and counts it. */
  sendError(code: ErrorCode, message: string, reply: ReplyTo | null): void {
    this.#host.stats.countError(code)
    this.send('error', this.#host.dialect.codec.encodeError(code, message, reply))
  }

  /** The auth phase succeeded (the identity is attached): answer it, welcome, then run what the client pipelined behind it. */
  authenticated(identity: Identity, request: ReplyTo, queued: readonly Inbound[]): void {
    const host = this.#host
    this.#firstFrame = null
    const answer = host.dialect.authAnswer(identity)
    for (const to of destinations(request)) this.send('response', host.dialect.codec.encodeResponse('auth', answer, to))
    this.#welcome(queued)
  }

  /** Stops reading the socket for `ms`: the client's further frames wait in TCP buffers, not in our memory or CPU. */
  #pauseReading(ms: number): void {
    if (this.#resume !== null) return
    this.conn.socket.pause()
    this.#resume = setTimeout(() => {
      this.#resume = null
      // The welcome's wait holds the socket until it is over.
      if (this.#beforeWelcome === null) this.conn.socket.resume()
    }, ms)
  }

  /**
   * Auto-subscribes the connection, then welcomes it, then handles `queued` (frames pipelined
   * behind a first-frame auth). When the broker has yet to confirm one of those rooms, the welcome
   * waits for it as a subscribe's answer does (docs/protocol.md A.2): until then the socket is not
   * read and what would be sent to the connection queues behind the welcome.
   */
  #welcome(queued: readonly Inbound[] = []): void {
    const conn = this.conn
    const host = this.#host
    conn.phase = 'open'
    // Its content as of the admission, whether it goes now or after the wait.
    const welcome = host.dialect.codec.encodeWelcome(host.welcomeFor(conn))
    const ready = host.welcoming(conn)
    if (ready === null) {
      this.send('welcome', welcome)
      host.admitted(conn)
      for (const msg of queued) this.dispatch(msg)
      return
    }
    conn.holdUntilWelcome()
    conn.socket.pause()
    // Attached in the same turn as the joins, as when nothing waits: a tracked event of those rooms
    // sent during the wait is tracked (and queued behind the welcome, as its re-sends would be).
    host.admitted(conn)
    const read: RawFrame[] = (this.#beforeWelcome = [])
    void ready.then(() => {
      this.#beforeWelcome = null
      if (conn.phase !== 'closing') {
        if (conn.welcome(welcome)) host.stats.countOut('welcome')
        for (const msg of queued) this.dispatch(msg)
        for (const raw of read) this.frame(raw)
      }
      // Closed meanwhile (a drain, an expiry): read on all the same, or the client's answer to the
      // close frame is never read and the socket stays until ws's close timer.
      if (this.#resume === null && this.#beforeWelcome === null) conn.socket.resume()
    })
  }
}
