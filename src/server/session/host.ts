import type { Logger } from 'pino'
import type { Identity } from '../../auth/identity.js'
import type { Settings } from '../../config/settings.js'
import type { Dialect } from '../../dialects/dialect.js'
import type { JsonObject, WelcomeInfo } from '../../protocol/messages.js'
import type { Connection } from '../connection.js'
import type { RequestRegistry } from '../request-registry.js'
import type { ServerStats } from '../stats.js'

/** Checks credentials (an auth request's data, or the upgrade's); throws AppError AUTH_FAILED for a client's fault. */
export interface CredentialCheck {
  verify(credentials: JsonObject): Promise<Identity>
}

/**
 * What a session needs from the server that holds it: settings, the dialect, counters, the
 * request registry, and three calls back for what spans connections (rooms, callbacks).
 */
export interface SessionHost {
  readonly settings: Settings
  readonly dialect: Dialect
  readonly log: Logger
  readonly stats: ServerStats
  readonly requests: RequestRegistry
  readonly authenticator: CredentialCheck
  /** Tracked deliveries: an ack frame settles one (docs/protocol.md A.8). */
  readonly delivery: { ack(conn: Connection, messageId: unknown): void }
  /** The welcome's content for this connection. */
  welcomeFor(conn: Connection): WelcomeInfo
  /**
   * The connection is about to get its welcome: auto-subscribe it. A promise when the broker has
   * yet to confirm one of those rooms: the welcome waits for it (settles, never rejects).
   */
  welcoming(conn: Connection): Promise<void> | null
  /** The connection got its welcome (or, when the welcome waits, what it sends queues behind it): attach its tracked deliveries. */
  admitted(conn: Connection): void
  /** Attaches a verified identity and joins the channels the dialect gives it; a promise when the auth answer must wait for the broker. */
  identify(conn: Connection, identity: Identity): Promise<void> | null
}
