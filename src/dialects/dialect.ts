import type { Identity } from '../auth/identity.js'
import type { Settings } from '../config/settings.js'
import type { JsonObject, ServerCodec } from '../protocol/messages.js'
import type { Connection } from '../server/connection.js'

/** What a keepalive needs from the server: the connections, a counted send, and a timeout report. */
export interface KeepaliveHooks {
  connections(): Iterable<Connection>
  /** Sends one frame (already framed, the same bytes for every connection) and counts it. */
  sendFramed(conn: Connection, type: string, frame: Buffer): void
  /** Called for a connection that stayed silent too long, just before the keepalive ends it. */
  onTimeout(conn: Connection): void
}

/**
 * Everything that differs between wire protocols. A service names its dialect in its spec; the
 * core asks the dialect and never branches on which one it is. A new dialect is one file here
 * plus its codecs in src/protocol/<name>/.
 */
export interface Dialect {
  readonly name: string
  /** The server's half of the dialect's codec. */
  readonly codec: ServerCodec
  /** A new connection id (envelope: uuid4; flat: `ws_<base36 ms>_<random>`). */
  newConnectionId(): string
  /** A new event id for a publication or a direct message (envelope: uuid4; flat: `msg_…`). */
  newEventId(): string
  /** What is wrong with a service's settings for this dialect (checked at construction), or []. */
  settingsProblems(settings: Settings, service: string): string[]
  /**
   * Whether verified identities carry permissions (the envelope JWT's `permissions`), which
   * `auth.required` then enforces; flat tokens only name an agent. @default true
   */
  readonly permissionsInTokens?: boolean
  /** Whether a new connection must authenticate with its first frame before the welcome. */
  authFirst(settings: Settings): boolean
  /** Credentials carried by the upgrade request's query string (flat: agent_id, session_id, token), or null; only asked when there is a query. */
  upgradeCredentials(url: URL): JsonObject | null
  /** Verifies credentials (an auth request's data, or the upgrade's); throws AppError AUTH_FAILED. */
  verify(credentials: JsonObject, settings: Settings): Promise<Identity>
  /** The data of the answer to a successful auth request. */
  authAnswer(identity: Identity): JsonObject
  /** The data of the answer to a successful refresh (an auth request of a connection that has an identity, docs/protocol.md A.6, B). */
  refreshAnswer(identity: Identity): JsonObject
  /** Channels a connection joins once it has this identity (flat: `agents/{id}`, `sessions/{id}`). */
  identityChannels(identity: Identity): readonly string[]
  /** Starts the dialect's keepalive over the server's connections; returns a stop function. */
  startKeepalive(hooks: KeepaliveHooks, settings: Settings): () => void
}
