import type { Identity } from '../../auth/identity.js'
import { AppError, CloseCode, CloseReason, ErrorCode } from '../../protocol/codes.js'
import type { Inbound, ReplyTo } from '../../protocol/messages.js'
import type { Connection } from '../connection.js'
import { destinations } from './answer.js'
import type { SessionHost } from './host.js'
import type { SessionAuth } from './session-auth.js'

/** Frames a client may pipeline behind its auth request before the token is verified. */
const MAX_QUEUED = 64

/** What the auth phase drives on its session. */
export interface AuthPhaseOwner {
  readonly conn: Connection
  send(type: string, frame: string): void
  sendError(code: ErrorCode, message: string, reply: ReplyTo | null): void
  /** Ends the auth phase (the identity is attached): the answer and the welcome go out, then the queued frames in order. */
  authenticated(identity: Identity, request: ReplyTo, queued: readonly Inbound[]): void
}

/**
 * The first-frame authentication of docs/protocol.md A.6 (envelope with auth.required): the
 * first frame must be the auth request; frames pipelined behind it wait for its outcome. The
 * deadline (auth.timeout) and the close after a refusal are the session's SessionAuth.
 */
export class FirstFrameAuth {
  readonly #owner: AuthPhaseOwner
  readonly #host: SessionHost
  readonly #auth: SessionAuth
  /** Frames received while the credentials are being verified; null before the auth frame came. */
  #queue: Inbound[] | null = null

  constructor(owner: AuthPhaseOwner, host: SessionHost, auth: SessionAuth) {
    this.#owner = owner
    this.#host = host
    this.#auth = auth
    owner.conn.phase = 'auth'
  }

  /** Handles a frame that arrived during the auth phase. */
  frame(msg: Inbound): void {
    const owner = this.#owner
    if (owner.conn.phase !== 'auth') return
    if (this.#queue !== null) {
      if (this.#queue.length < MAX_QUEUED) this.#queue.push(msg)
      return
    }
    if (msg.kind !== 'request' || msg.op !== 'auth') {
      if (msg.kind !== 'request') owner.sendError(ErrorCode.AUTH_REQUIRED, 'Authentication required', null)
      else for (const to of destinations(msg)) owner.sendError(ErrorCode.AUTH_REQUIRED, 'Authentication required', to)
      owner.conn.close(CloseCode.POLICY_VIOLATION, CloseReason.AUTH_REQUIRED)
      return
    }
    const queue: Inbound[] = []
    this.#queue = queue
    this.#auth.identify(msg.data).then(
      (identity) => {
        if (owner.conn.phase === 'auth') owner.authenticated(identity, msg, queue)
      },
      (err: unknown) => this.#failed(err, msg),
    )
  }

  #failed(err: unknown, msg: ReplyTo): void {
    const owner = this.#owner
    if (owner.conn.phase !== 'auth') return
    if (err instanceof AppError) for (const to of destinations(msg)) owner.sendError(err.code, err.message, to)
    else this.#host.log.error({ err, connection: owner.conn.id }, 'authentication error')
    this.#auth.failed(err)
  }
}
