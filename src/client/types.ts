import type { JsonObject, StreamPosition } from '../protocol/index.js'
import type { BackoffOptions } from './backoff.js'
import type { SocketFactory } from './socket.js'

/** Event name → payload type; services export theirs (e.g. `WorkflowEvents` from `roomcast/services`). */
export type EventMap = Record<string, JsonObject>

/** `connecting` (first connect), `open`, `reconnecting` (after a loss, waiting or dialing), `closed` (for good). */
export type ClientState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed'

export interface ClientOptions {
  /** `ws://host:port/ws` of a service. */
  readonly url: string
  /** The service's wire dialect (docs/protocol.md A, B). */
  readonly dialect: 'envelope' | 'flat'
  /** Sent as an `auth` request on every connect: envelope `{token}`, flat `{agent_id, session_id?, token?}`. */
  readonly auth?: JsonObject
  /**
   * Supplies the token instead of a static `auth.token`: called on every connect (the auth
   * request then carries it, beside the flat `auth`'s agent_id/session_id) and when the server
   * warns that the token expires (the client then refreshes on the same connection). A failure
   * is reported through onError and retried with backoff (docs/client.md "Expiring tokens").
   */
  readonly getToken?: () => string | Promise<string>
  /** Ms to wait for an answer (request, subscribe, publish, the welcome). @default 10000 */
  readonly requestTimeout?: number
  readonly backoff?: BackoffOptions
  /**
   * Event-name patterns (`task.*`, an exact name, or `*`) the client acknowledges (tracked events,
   * docs/protocol.md A.8). @default flat: task.*, subtask.*, message.*; envelope: none
   */
  readonly ackEvents?: readonly string[]
  /**
   * Ms an ack may wait so that the acks of several events leave in one frame (`message_ids`);
   * 0 sends the acks of each read of the socket together, at once. Keep it well under the
   * server's `delivery.ack_timeout` (5 s). @default 20
   */
  readonly ackDelay?: number
  /** Recent event ids remembered to drop re-sent duplicates. @default 1000 */
  readonly dedupeWindow?: number
  /** How to open a socket; default the global WebSocket, else the `ws` package. */
  readonly socket?: SocketFactory
}

/** What arrived with an event besides its payload. */
export interface EventMeta {
  readonly event: string
  readonly id: string | null
  readonly channel: string | null
  readonly timestamp: string | number | null
  /** Offset and epoch on history channels. */
  readonly position: StreamPosition | null
}

/** The answer to a subscribe (also reported for every re-subscribe after a reconnect). */
export interface Subscribed {
  readonly channel: string
  /** True when `since` was honoured and every missed event is being replayed; false: reload your state. */
  readonly recovered: boolean
  /** The stream's position at the answer (history channels), else null. */
  readonly position: StreamPosition | null
  /** True for the client's own re-subscribe: after a reconnect, or to fetch events it saw were missing. */
  readonly resubscribe: boolean
}
