import type { Identity } from '../../auth/identity.js'
import { AppError, CloseCode, CloseReason, ErrorCode } from '../../protocol/codes.js'
import type { Inbound, ReplyTo } from '../../protocol/messages.js'
import type { Connection } from '../connection.js'
import type { SessionHost } from './host.js'

/** Frames a client may pipeline behind its auth request before the token is verified. */
const MAX_QUEUED = 64

/** What the auth phase drives on its session. */
export interface AuthPhaseOwner {
  readonly conn: Connection
  send(type: string, frame: string): void
  sendError(code: ErrorCode, message: string, reply: ReplyTo | null): void
  /** Ends the auth phase: the welcome goes out, then the queued frames in order. */
  authenticated(identity: Identity, request: ReplyTo, queued: readonly Inbound[]): void
}

/**
 * The first-frame authentication of docs/protocol.md A.6 (envelope with auth.required): the
 * first frame must authenticate within auth.timeout, or the connection is closed 1008.
 */
export class FirstFrameAuth {
  readonly #owner: AuthPhaseOwner
  readonly #host: SessionHost
  #timer: NodeJS.Timeout | null
  /** Frames received while the credentials are being verified; null before the auth frame came. */
  #queue: Inbound[] | null = null

  constructor(owner: AuthPhaseOwner, host: SessionHost) {
    this.#owner = owner
    this.#host = host
    owner.conn.phase = 'auth'
    this.#timer = setTimeout(() => {
      this.#timer = null
      owner.conn.close(CloseCode.POLICY_VIOLATION, CloseReason.AUTH_TIMEOUT)
    }, host.settings.auth.timeout * 1000)
  }

  /** Stops the timeout; after this the phase ignores every outcome. */
  cancel(): void {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
  }

  /** Handles a frame that arrived during the auth phase. */
  frame(msg: Inbound): void {
    if (this.#timer === null) return
    if (this.#queue !== null) {
      if (this.#queue.length < MAX_QUEUED) this.#queue.push(msg)
      return
    }
    const owner = this.#owner
    if (msg.kind !== 'request' || msg.op !== 'auth') {
      this.cancel()
      owner.sendError(ErrorCode.AUTH_REQUIRED, 'Authentication required', msg.kind === 'request' ? msg : null)
      owner.conn.close(CloseCode.POLICY_VIOLATION, CloseReason.AUTH_REQUIRED)
      return
    }
    const queue: Inbound[] = []
    this.#queue = queue
    this.#host.authenticator.verify(msg.data).then(
      (identity) => {
        if (this.#timer === null) return
        this.cancel()
        owner.authenticated(identity, msg, queue)
      },
      (err: unknown) => this.#failed(err, msg),
    )
  }

  #failed(err: unknown, msg: ReplyTo): void {
    if (this.#timer === null) return
    this.cancel()
    const owner = this.#owner
    if (err instanceof AppError) {
      owner.sendError(err.code, err.message, msg)
      owner.conn.close(CloseCode.POLICY_VIOLATION, CloseReason.AUTH_FAILED)
      return
    }
    this.#host.log.error({ err, connection: owner.conn.id }, 'authentication error')
    owner.conn.close(CloseCode.INTERNAL_ERROR, CloseReason.AUTH_ERROR)
  }
}
