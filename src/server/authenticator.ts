import type { Identity } from '../auth/identity.js'
import { AppError, CloseCode, CloseReason, ErrorCode } from '../protocol/codes.js'
import type { Inbound, JsonObject } from '../protocol/messages.js'
import type { Connection } from './connection.js'
import type { WebSocketServer } from './websocket-server.js'

/** Frames a client may pipeline behind its auth request before the token is verified. */
const MAX_QUEUED = 64

interface Pending {
  timer: NodeJS.Timeout
  /** Frames received while the token is being verified, replayed in order after the welcome. */
  queue: Inbound[] | null
}

/** The first-frame authentication of PROTOCOL.md A.6, with its timeouts and close codes. */
export class Authenticator {
  readonly #server: WebSocketServer
  readonly #pending = new Map<Connection, Pending>()

  constructor(server: WebSocketServer) {
    this.#server = server
  }

  /** Puts a new connection in the auth phase: its first frame must authenticate, within auth.timeout. */
  awaitFirstFrame(conn: Connection): void {
    conn.phase = 'auth'
    const timer = setTimeout(() => {
      this.#pending.delete(conn)
      conn.close(CloseCode.POLICY_VIOLATION, CloseReason.AUTH_TIMEOUT)
    }, this.#server.settings.auth.timeout * 1000)
    this.#pending.set(conn, { timer, queue: null })
  }

  cancel(conn: Connection): void {
    const p = this.#pending.get(conn)
    if (p !== undefined) clearTimeout(p.timer)
    this.#pending.delete(conn)
  }

  /** Handles a frame that arrived while the connection is in the auth phase. */
  firstFrame(conn: Connection, msg: Inbound): void {
    const pending = this.#pending.get(conn)
    if (pending === undefined) return
    if (pending.queue !== null) {
      if (pending.queue.length < MAX_QUEUED) pending.queue.push(msg)
      return
    }
    const server = this.#server
    if (msg.kind !== 'request' || msg.op !== 'auth') {
      this.cancel(conn)
      server.sendError(conn, ErrorCode.AUTH_REQUIRED, 'Authentication required', msg.kind === 'request' ? msg : null)
      conn.close(CloseCode.POLICY_VIOLATION, CloseReason.AUTH_REQUIRED)
      return
    }
    pending.queue = []
    this.verify(msg.data).then(
      (identity) => {
        if (!this.#pending.has(conn)) return
        const queue = pending.queue ?? []
        this.cancel(conn)
        server.identify(conn, identity)
        server.sendFrame(conn, 'response', server.codec.encodeResponse('auth', server.dialect.authAnswer(identity), msg))
        server.welcome(conn)
        for (const queued of queue) server.dispatch(conn, queued)
      },
      (err: unknown) => {
        this.cancel(conn)
        if (err instanceof AppError) {
          server.sendError(conn, err.code, err.message, msg)
          conn.close(CloseCode.POLICY_VIOLATION, CloseReason.AUTH_FAILED)
          return
        }
        server.log.error({ err, connection: conn.id }, 'authentication error')
        conn.close(CloseCode.INTERNAL_ERROR, CloseReason.AUTH_ERROR)
      },
    )
  }

  /** Verifies credentials with the dialect; throws AppError AUTH_FAILED for a client's fault, anything else for ours. */
  verify(credentials: JsonObject): Promise<Identity> {
    return this.#server.dialect.verify(credentials, this.#server.settings)
  }

  /**
   * Identity from the upgrade request (flat: query agent_id, session_id, token), for a connection
   * already welcomed. A refusal is an error frame; the connection stays open, anonymous.
   */
  fromUpgrade(conn: Connection, url: string | undefined): void {
    const credentials = this.#server.dialect.upgradeCredentials(new URL(url ?? '/', 'http://localhost'))
    if (credentials === null) return
    const server = this.#server
    this.verify(credentials).then(
      (identity) => {
        if (conn.phase === 'open') server.identify(conn, identity)
      },
      (err: unknown) => {
        if (err instanceof AppError) return server.sendError(conn, err.code, err.message, null)
        server.log.error({ err, connection: conn.id }, 'authentication error')
        server.sendError(conn, ErrorCode.SERVER_ERROR, 'Internal server error', null)
      },
    )
  }
}
