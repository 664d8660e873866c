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

  /** The members on every instance; throws PRESENCE_NOT_ENABLED on a channel without presence. */
  members(channel: string): JsonObject {
    this.#check(channel)
    const book = this.#deps.broker.presence
    const members = book.members(channel).map(memberJson)
    return { channel, members, count: members.length, ...book.stats(channel) }
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
