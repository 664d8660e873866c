import type { Identity } from '../../auth/identity.js'
import { tokenRequired } from '../../auth/token-policy.js'
import { AppError, CloseCode, CloseReason, ErrorCode } from '../../protocol/codes.js'
import type { JsonObject, ReplyTo } from '../../protocol/messages.js'
import { type AnswerSink, answerWith } from './answer.js'
import type { SessionHost } from './host.js'
import { TokenExpiry } from './token-expiry.js'

/** A verified identity, and whether it renewed the connection's (a refresh) rather than gave it one. */
interface Verified {
  readonly identity: Identity
  readonly refreshed: boolean
}

/** Whether `next` names the connection's identity: the same user (agent), and the same session where the connection has one. */
function sameIdentity(current: Identity, next: Identity): boolean {
  return next.userId === current.userId && (current.sessionId === undefined || next.sessionId === current.sessionId)
}

/**
 * The authentication of one connection, in one place (docs/auth.md "Production"): the deadline
 * to get a verified identity, every way to get one (the envelope first frame, an auth request,
 * the flat upgrade's query) and what a failed attempt costs. The identity itself is the
 * connection's (`conn.identity`), set by the server's identify().
 *
 * On a locked service (`environment: production` or `auth.required`) a connection that has no
 * identity by `auth.timeout` is closed 1008 `Authentication timeout` (unless it reads public
 * channels: what public_channels invites), and a failed attempt that leaves it without an
 * identity closes it 1008 `Authentication failed` after the error frame. In development an
 * anonymous connection stays, and a failed attempt only gets its error frame.
 *
 * A token with an `exp` (docs/auth.md "Refresh") arms one timer: a warning frame before the
 * expiry, close 4001 `Token expired` at it. An auth of a connection that has an identity is a
 * refresh: the same identity only, and it moves the expiry; a refused one changes nothing.
 */
export class SessionAuth {
  readonly #sink: AnswerSink
  readonly #host: SessionHost
  readonly locked: boolean
  #deadline: NodeJS.Timeout | null = null
  /** Created with the first identity that has an expiry: anonymous connections carry no timer. */
  #expiry: TokenExpiry | null = null

  constructor(sink: AnswerSink, host: SessionHost) {
    this.#sink = sink
    this.#host = host
    this.locked = tokenRequired(host.settings)
  }

  /** Arms the deadline of a locked service. */
  start(): void {
    if (!this.locked) return
    this.#deadline = setTimeout(() => this.#expired(), this.#host.settings.auth.timeout * 1000)
  }

  /** The connection closed: stop its timers. */
  end(): void {
    this.#endDeadline()
    this.#expiry?.clear()
  }

  /** Verifies credentials and gives the connection that identity; rejects with the refusal (AppError) or an unexpected failure. */
  async identify(credentials: JsonObject): Promise<Identity> {
    return (await this.#verify(credentials)).identity
  }

  /**
   * Verifies credentials; a connection without an identity gets this one, one with an identity
   * keeps it and takes the new expiry (a refresh) — or, for another identity, nothing changes.
   */
  async #verify(credentials: JsonObject): Promise<Verified> {
    const verified = await this.#host.authenticator.verify(credentials)
    const conn = this.#sink.conn
    // Verified too late (the deadline, the expiry or the client closed it): nothing to attach to.
    if (conn.phase === 'closing') return { identity: verified, refreshed: false }
    const current = conn.identity
    if (current === null) {
      const joined = this.#host.identify(conn, verified)
      this.#endDeadline()
      this.#armExpiry(verified)
      // The answer goes once the broker confirmed the rooms the identity joined, as a subscribe's does.
      if (joined !== null) await joined
      return { identity: verified, refreshed: false }
    }
    if (!sameIdentity(current, verified)) throw new AppError(ErrorCode.AUTH_FAILED, 'Token identity does not match the connection')
    // The identity (permissions included) stays the one the connection authenticated with: only its lifetime moves.
    const { expiresAt: _old, ...kept } = current
    const renewed: Identity = verified.expiresAt === undefined ? kept : { ...kept, expiresAt: verified.expiresAt }
    conn.identity = renewed
    this.#armExpiry(renewed)
    return { identity: renewed, refreshed: true }
  }

  /** An auth request of an admitted connection (envelope: any time; flat: the auth frame): answered, then the refusal policy. */
  request(credentials: JsonObject, reply: ReplyTo): void {
    const dialect = this.#host.dialect
    answerWith(
      this.#sink,
      this.#host,
      'auth',
      reply,
      async () => {
        const { identity, refreshed } = await this.#verify(credentials)
        return refreshed ? dialect.refreshAnswer(identity) : dialect.authAnswer(identity)
      },
      (err) => this.failed(err),
    )
  }

  /** Credentials of the upgrade request (flat query parameters): a refusal is a bare error frame, then the refusal policy. */
  upgrade(credentials: JsonObject): void {
    this.identify(credentials).catch((err: unknown) => {
      if (err instanceof AppError) this.#sink.sendError(err.code, err.message, null)
      else {
        this.#host.log.error({ err, connection: this.#sink.conn.id }, 'authentication error')
        this.#sink.sendError(ErrorCode.SERVER_ERROR, 'Internal server error', null)
      }
      this.failed(err)
    })
  }

  /**
   * An attempt failed (its error frame, if any, already sent). On a locked service a connection
   * left without an identity is closed: 1008 for a refusal, 1011 for an unexpected failure. One
   * that has an identity keeps it, and stays (a second identity refused, a bad refresh).
   */
  failed(err: unknown): void {
    const conn = this.#sink.conn
    if (!this.locked || conn.identity !== null) return
    this.#endDeadline()
    if (err instanceof AppError) conn.close(CloseCode.POLICY_VIOLATION, CloseReason.AUTH_FAILED)
    else conn.close(CloseCode.INTERNAL_ERROR, CloseReason.AUTH_ERROR)
  }

  #endDeadline(): void {
    if (this.#deadline !== null) clearTimeout(this.#deadline)
    this.#deadline = null
  }

  /** One timer for an identity with an expiry; none (or none any more) for one without. */
  #armExpiry(identity: Identity): void {
    if (identity.expiresAt === undefined) return this.#expiry?.clear()
    this.#expiry ??= new TokenExpiry({ warn: (at) => this.#warn(at), expired: () => this.#tokenExpired() }, this.#host.settings.auth.expiry_warning)
    this.#expiry.arm(identity.expiresAt)
  }

  #warn(expiresAt: number): void {
    const expiresIn = Math.max(0, Math.round(expiresAt - Date.now())) / 1000
    this.#sink.send('token_expiring', this.#host.dialect.codec.encodeTokenExpiring(expiresAt, expiresIn))
  }

  #tokenExpired(): void {
    const conn = this.#sink.conn
    if (conn.phase === 'closing') return
    this.#host.stats.tokenExpiredCloses++
    this.#host.log.info({ connection: conn.id, user: conn.identity?.userId, code: CloseCode.TOKEN_EXPIRED }, 'token expired: connection closed')
    conn.close(CloseCode.TOKEN_EXPIRED, CloseReason.TOKEN_EXPIRED)
  }

  #expired(): void {
    this.#deadline = null
    const conn = this.#sink.conn
    if (conn.identity !== null) return
    // An anonymous reader of public channels (the only ones it can hold) is what public_channels invites.
    if (conn.phase === 'open' && conn.subscriptionCount > 0) return
    conn.close(CloseCode.POLICY_VIOLATION, CloseReason.AUTH_TIMEOUT)
  }
}
