/**
 * Every failure the client reports: a server error code (docs/errors.md, e.g. `FORBIDDEN`,
 * `INVALID_CHANNEL`, `AUTH_FAILED`) or one of the client's own: `TIMEOUT` (no answer in time),
 * `CLOSED` (the connection went away or `close()` was called before an answer came), `TOKEN_ERROR`
 * (the `getToken` option failed).
 */
export class RoomcastError extends Error {
  readonly code: string
  constructor(code: string, message: string) {
    super(message)
    this.name = 'RoomcastError'
    this.code = code
  }
}

/** Close codes after which reconnecting with the same credentials cannot help. */
export const FATAL_CLOSE_CODES: ReadonlySet<number> = new Set([1008])

/** The close code of a token that expired unrefreshed: reconnect at once with a fresh token. */
export const TOKEN_EXPIRED_CLOSE = 4001
