import { z } from 'zod'
import type { StreamPosition } from '../broker/position.js'
import { compileObserverPattern } from '../protocol/channels.js'
import { AppError, ErrorCode } from '../protocol/codes.js'
import type { JsonObject, Publication } from '../protocol/messages.js'
import type { Connection } from './connection.js'
import type { RequestRegistry } from './request-registry.js'
import { parseSince } from './history-subscribe.js'
import type { PresencePage } from './presence.js'

// Channel checks answer INVALID_CHANNEL (not INVALID_PARAMS), so the schema lets anything through.
const ChannelParamsSchema = z.looseObject({ channel: z.unknown().optional(), room: z.unknown().optional(), since: z.unknown().optional() })

// presence also takes a page: `limit` and `after`, checked by the presence (server/presence.ts).
const PresenceParamsSchema = z.looseObject({ channel: z.unknown().optional(), room: z.unknown().optional(), limit: z.unknown().optional(), after: z.unknown().optional() })

// The pattern is checked by the observer registry, which names the problem.
const ObserveParamsSchema = z.looseObject({ pattern: z.unknown().optional() })

const PublishParamsSchema = z.looseObject({
  channel: z.unknown().optional(),
  event: z.unknown().optional(),
  data: z.unknown().optional(),
})

/** What the built-in operations use: the server's rules, rooms, publish and status. */
export interface BuiltinHost {
  readonly requests: RequestRegistry
  checkRead(conn: Connection, channel: unknown): void
  checkChannel(channel: unknown): void
  /** Joins the room; on a history channel answers the stream position and recovers from `since`. */
  subscribeTo(conn: Connection, channel: string, since: StreamPosition | null, afterAnswer?: (fn: () => void) => void): JsonObject | Promise<JsonObject>
  /** Leaves the room; a promise when the answer waits for the service to record it. */
  unsubscribe(conn: Connection, channel: string): Promise<void> | null
  /** Adds an observer pattern (docs/protocol.md A.9); returns it, once the cluster hands this instance every room's publications. */
  observe(conn: Connection, pattern: unknown): string | Promise<string>
  /** Drops an observer pattern; a promise when the cluster stops handing this instance every room (its last observer went). */
  unobserve(conn: Connection, pattern: string): Promise<void> | null
  publish(channel: unknown, event: unknown, data: unknown, from: Connection | null): Promise<{ pub: Publication }>
  /** The whole service's status (every worker's, with workers). */
  status(): JsonObject | Promise<JsonObject>
  /** One page of the channel's members on every instance, for a connection that may read it. */
  presence(conn: Connection, channel: unknown, page: PresencePage): JsonObject
  /** The channel's connections and distinct users on every instance, for a connection that may read it. */
  presenceStats(conn: Connection, channel: unknown): JsonObject
}

/** Only an operator connection (loopback or the API key, per the access policy) observes. */
function checkOperator(conn: Connection): void {
  if (!conn.operator) {
    throw new AppError(ErrorCode.FORBIDDEN, 'Observing is for operators: connect from loopback, or with the API key (Authorization: Bearer <key>)')
  }
}

/**
 * The operations every service has (docs/protocol.md A.4): subscribe, unsubscribe, publish,
 * get_status, presence and presence_stats (A.10), and for operators observe and unobserve (A.9). The fifth, `auth`, is the session's own (session/session-auth.ts): what a failed
 * one costs depends on the connection's auth state, not on one request.
 */
export function registerBuiltinRequests(server: BuiltinHost): void {
  server.requests
    .register('subscribe', ChannelParamsSchema, ({ channel, room, since }, { connection, afterAnswer }) => {
      const name = channel ?? room
      server.checkRead(connection, name)
      return server.subscribeTo(connection, name as string, parseSince(since), afterAnswer)
    })
    .register('unsubscribe', ChannelParamsSchema, ({ channel, room }, { connection }) => {
      const name = channel ?? room
      server.checkChannel(name)
      const answer = { status: 'unsubscribed', channel: name as string }
      const recorded = server.unsubscribe(connection, name as string)
      return recorded === null ? answer : recorded.then(() => answer)
    })
    .register('publish', PublishParamsSchema, async ({ channel, event, data }, { connection }) => {
      const { pub } = await server.publish(channel, event, data, connection)
      const position = pub.position === undefined ? {} : { offset: pub.position.offset, epoch: pub.position.epoch }
      return { status: 'published', id: pub.id, ...position }
    })
    .register('get_status', z.looseObject({}), () => server.status())
    .register('observe', ObserveParamsSchema, ({ pattern }, { connection }) => {
      checkOperator(connection)
      const added = server.observe(connection, pattern)
      return typeof added === 'string' ? { status: 'observing', pattern: added } : added.then((name) => ({ status: 'observing', pattern: name }))
    })
    .register('unobserve', ObserveParamsSchema, ({ pattern }, { connection }) => {
      // The same check as observe: a pattern no one could observe is refused, not echoed back.
      try {
        compileObserverPattern(pattern)
      } catch (err) {
        throw new AppError(ErrorCode.INVALID_PARAMS, (err as Error).message)
      }
      const answer = { status: 'unobserved', pattern: pattern as string }
      const switching = server.unobserve(connection, answer.pattern)
      return switching === null ? answer : switching.then(() => answer)
    })
    .register('presence', PresenceParamsSchema, ({ channel, room, limit, after }, { connection }) => server.presence(connection, channel ?? room, { limit, after }))
    .register('presence_stats', ChannelParamsSchema, ({ channel, room }, { connection }) => server.presenceStats(connection, channel ?? room))
}
