import type { Broker } from '../broker/broker.js'
import type { PresenceMember } from '../broker/cluster-presence.js'
import { ChannelTable, patternsOverlap } from '../broker/history-channels.js'
import { type Settings, SettingsError } from '../config/settings.js'
import { AppError, ErrorCode } from '../protocol/codes.js'
import type { JsonObject, Publication } from '../protocol/messages.js'
import type { Connection } from './connection.js'
import type { ServiceSpec } from './service-spec.js'

/** One settings.presence entry. */
export interface PresenceRule {
  readonly channel: string
  readonly joinLeave: boolean
}

/** The most members one presence answer lists (docs/protocol.md A.10); a request's `limit` may ask fewer. */
export const PRESENCE_PAGE_MAX = 1000

/** Which page of a presence list to answer: `limit` members after the cursor `after` (a previous answer's `next`). */
export interface PresencePage {
  readonly limit?: unknown
  readonly after?: unknown
}

/** The cursor after a member: its place in the order of every list (connected_at, then connection_id). */
const cursorOf = (m: PresenceMember): string => `${m.connectedAt}:${m.connectionId}`

function pageLimit(limit: unknown): number {
  if (limit === undefined || limit === null) return PRESENCE_PAGE_MAX
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > PRESENCE_PAGE_MAX) {
    throw new AppError(ErrorCode.INVALID_PARAMS, `Field 'limit' must be a whole number from 1 to ${PRESENCE_PAGE_MAX}`)
  }
  return limit
}

/** `after` as [connectedAt, connectionId], or null for the first page. */
function pageAfter(after: unknown): readonly [number, string] | null {
  if (after === undefined || after === null) return null
  const m = typeof after === 'string' ? /^(\d+):(.+)$/.exec(after) : null
  if (m === null) throw new AppError(ErrorCode.INVALID_PARAMS, "Field 'after' must be the 'next' of a previous presence answer")
  return [Number(m[1]), m[2] as string]
}

/** A page from an HTTP query (`?limit=50&after=…`): a numeric limit as a number; checked like a request's. */
export function presencePage(query: { limit?: unknown; after?: unknown }): PresencePage {
  const { limit, after } = query
  return { limit: typeof limit === 'string' && /^\d{1,6}$/.test(limit) ? Number(limit) : limit, after }
}

/** The events subscribers of a `join_leave` channel get (docs/protocol.md, "Presence"). */
export const PRESENCE_EVENTS: ReadonlySet<string> = new Set(['join', 'leave'])

/** A presence member as every answer shows it. */
export function memberJson(m: PresenceMember): JsonObject {
  return { connection_id: m.connectionId, user_id: m.userId, session_id: m.sessionId, connected_at: new Date(m.connectedAt).toISOString(), instance: m.instance }
}

/** The settings' presence rules; each must name channels of this service. */
export function presenceChannelsOf(spec: Pick<ServiceSpec, 'name' | 'channels'>, settings: Settings): ChannelTable<PresenceRule> {
  const problems = settings.presence.flatMap((p, i) =>
    spec.channels.some((c) => patternsOverlap(c.pattern, p.channel))
      ? []
      : [`presence.${i}.channel: ${p.channel} matches none of the channels of ${spec.name} (${spec.channels.map((c) => c.pattern).join(', ')})`],
  )
  if (problems.length > 0) throw new SettingsError(`settings of ${spec.name}`, problems)
  return new ChannelTable(settings.presence.map((p) => ({ channel: p.channel, joinLeave: p.join_leave })))
}

export interface PresenceDeps {
  readonly broker: Broker
  readonly instanceId: string
  readonly rules: ChannelTable<PresenceRule>
  readonly newEventId: () => string
  readonly log: { warn(obj: object, msg: string): void }
}

/**
 * The presence of this instance's connections: every room join and leave goes to the broker's
 * presence book (a member on a presence channel, a count elsewhere), and on a `join_leave`
 * channel a `join` or `leave` event goes to the channel's other subscribers, on every instance.
 */
export class ServerPresence {
  readonly #deps: PresenceDeps

  constructor(deps: PresenceDeps) {
    this.#deps = deps
  }

  /** Whether `channel` keeps presence. */
  enabled(channel: string): boolean {
    return this.#deps.rules.optionsOf(channel) !== null
  }

  /** Called before the connection enters the room: the others hear of it, the joiner does not. */
  joining(conn: Connection, channel: string): void {
    if (this.#deps.rules.optionsOf(channel)?.joinLeave === true) this.#announce(channel, 'join', this.#member(conn))
  }

  /** The connection is in the room now. */
  joined(conn: Connection, channel: string): void {
    this.#deps.broker.presence.join(channel, this.enabled(channel) ? this.#member(conn) : null)
  }

  /** The connection left the room (unsubscribe or close). */
  left(conn: Connection, channel: string): void {
    const rule = this.#deps.rules.optionsOf(channel)
    this.#deps.broker.presence.leave(channel, rule === null ? null : conn.id)
    if (rule?.joinLeave === true) this.#announce(channel, 'leave', this.#member(conn))
  }

  /** The connection got an identity: its entries on presence channels show it from now on. */
  identified(conn: Connection): void {
    if (conn.subscriptionCount === 0) return
    const book = this.#deps.broker.presence
    for (const channel of conn.subscriptions) {
      if (!this.enabled(channel)) continue
      book.leave(channel, conn.id)
      book.join(channel, this.#member(conn))
    }
  }

  /** An instance went away with these members (told on one instance): their leave events. */
  gone(channel: string, members: readonly PresenceMember[]): void {
    if (this.#deps.rules.optionsOf(channel)?.joinLeave !== true) return
    for (const m of members) this.#announce(channel, 'leave', m)
  }

  /**
   * One page of the members on every instance, in the order of connected_at then connection_id:
   * at most `limit` (PRESENCE_PAGE_MAX) after the cursor `after`; `next` is the cursor of the
   * following page, null on the last. Throws PRESENCE_NOT_ENABLED on a channel without presence,
   * INVALID_PARAMS on a bad limit or cursor.
   */
  members(channel: string, page: PresencePage = {}): JsonObject {
    this.#check(channel)
    const limit = pageLimit(page.limit)
    const after = pageAfter(page.after)
    const book = this.#deps.broker.presence
    const all = book.members(channel)
    let start = 0
    if (after !== null) {
      // The first member past the cursor (the list is sorted): a binary search.
      const [at, id] = after
      let hi = all.length
      while (start < hi) {
        const mid = (start + hi) >>> 1
        const m = all[mid] as PresenceMember
        if (m.connectedAt < at || (m.connectedAt === at && m.connectionId <= id)) start = mid + 1
        else hi = mid
      }
    }
    const listed = all.slice(start, start + limit)
    const last = listed[listed.length - 1]
    const next = start + limit < all.length && last !== undefined ? cursorOf(last) : null
    return { channel, members: listed.map(memberJson), count: listed.length, ...book.stats(channel), next }
  }

  /** Connections and distinct users on every instance; throws PRESENCE_NOT_ENABLED on a channel without presence. */
  stats(channel: string): JsonObject {
    this.#check(channel)
    return { channel, ...this.#deps.broker.presence.stats(channel) }
  }

  /** Every channel with subscribers anywhere in the cluster, with its count and whether it keeps presence. */
  channels(): { channel: string; subscribers: number; presence: boolean }[] {
    return [...this.#deps.broker.presence.channels()]
      .map(([channel, subscribers]) => ({ channel, subscribers, presence: this.enabled(channel) }))
      .sort((a, b) => a.channel.localeCompare(b.channel))
  }

  #check(channel: string): void {
    if (!this.enabled(channel)) throw new AppError(ErrorCode.PRESENCE_NOT_ENABLED, `Channel ${channel} keeps no presence (settings: presence)`)
  }

  #member(conn: Connection): PresenceMember {
    return {
      connectionId: conn.id,
      userId: conn.identity?.userId ?? null,
      sessionId: conn.identity?.sessionId ?? null,
      connectedAt: conn.connectedAt,
      instance: this.#deps.instanceId,
    }
  }

  #announce(channel: string, event: 'join' | 'leave', member: PresenceMember): void {
    const pub: Publication = { id: this.#deps.newEventId(), channel, event, data: memberJson(member), timestamp: new Date().toISOString() }
    this.#deps.broker.publish(pub, null).catch((err: unknown) => this.#deps.log.warn({ err, channel, event }, 'presence event not sent'))
  }
}
