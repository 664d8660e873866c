import type { Identity } from '../../auth/identity.js'
import { tokenRequired } from '../../auth/token-policy.js'
import { AppError, CloseCode, CloseReason, ErrorCode } from '../../protocol/codes.js'
import type { JsonObject, ReplyTo } from '../../protocol/messages.js'
import { type AnswerSink, answerWith } from './answer.js'
import type { SessionHost } from './host.js'

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
 */
export class SessionAuth {
  readonly #sink: AnswerSink
  readonly #host: SessionHost
  readonly locked: boolean
  #deadline: NodeJS.Timeout | null = null

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

  /** The connection closed: stop the deadline. */
  end(): void {
    if (this.#deadline !== null) clearTimeout(this.#deadline)
    this.#deadline = null
  }

  /** Verifies credentials and gives the connection that identity; rejects with the refusal (AppError) or an unexpected failure. */
  async identify(credentials: JsonObject): Promise<Identity> {
    const identity = await this.#host.authenticator.verify(credentials)
    const conn = this.#sink.conn
    // Verified too late (the deadline or the client closed it): nothing to attach to.
    if (conn.phase === 'closing') return identity
    this.#host.identify(conn, identity)
    this.end()
    return identity
  }

  /** An auth request of an admitted connection (envelope: any time; flat: the auth frame): answered, then the refusal policy. */
  request(credentials: JsonObject, reply: ReplyTo): void {
    answerWith(
      this.#sink,
      this.#host,
      'auth',
      reply,
      async () => this.#host.dialect.authAnswer(await this.identify(credentials)),
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
    this.end()
    if (err instanceof AppError) conn.close(CloseCode.POLICY_VIOLATION, CloseReason.AUTH_FAILED)
    else conn.close(CloseCode.INTERNAL_ERROR, CloseReason.AUTH_ERROR)
  }

  #expired(): void {
    this.#deadline = null
    const conn = this.#sink.conn
    if (conn.identity !== null) return
    // An anonymous reader of public channels (the only ones it can hold) is what public_channels invites.
    if (conn.phase === 'open' && conn.subscriptions.size > 0) return
    conn.close(CloseCode.POLICY_VIOLATION, CloseReason.AUTH_TIMEOUT)
  }
}
