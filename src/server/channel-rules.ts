import { type AccessContext, canRead, canWrite } from '../auth/permissions.js'
import { tokenRequired } from '../auth/token-policy.js'
import { HistoryChannels, patternsOverlap } from '../broker/history-channels.js'
import { type Settings, SettingsError } from '../config/settings.js'
import { type CompiledChannel, compileChannel, matchChannel } from '../protocol/channels.js'
import { AppError, ErrorCode } from '../protocol/codes.js'
import type { Publication } from '../protocol/messages.js'
import type { Connection } from './connection.js'
import { PublicChannels, publicChannelProblems } from './public-channels.js'
import { matchChannelOrThrow, ownerOf, validatePublication } from './publication.js'
import type { ServiceSpec } from './service-spec.js'

type ChannelsAndEvents = Pick<ServiceSpec, 'name' | 'channels' | 'events'>

/**
 * A service's channels and events as rules: which channels exist, who may read and write them,
 * what a valid publication is (and, valid, the publication itself with a fresh id and timestamp).
 */
export class ChannelRules {
  readonly compiled: readonly CompiledChannel[]
  readonly #spec: ChannelsAndEvents
  readonly #newEventId: () => string
  /** The access context minus the connection's identity: the same for every connection. */
  readonly #policy: Omit<AccessContext, 'identity'>

  /** `permissionsInTokens`: whether the dialect's tokens carry permissions (envelope JWT), which auth.required then enforces. */
  constructor(spec: ChannelsAndEvents, settings: Settings, newEventId: () => string, permissionsInTokens = true) {
    this.#spec = spec
    this.#newEventId = newEventId
    this.compiled = spec.channels.map(compileChannel)
    const problems = publicChannelProblems(spec.name, spec.channels, settings)
    if (problems.length > 0) throw new SettingsError(`settings of ${spec.name}`, problems)
    const open = new PublicChannels(settings.public_channels)
    this.#policy = {
      service: spec.name,
      locked: tokenRequired(settings),
      permissionsEnforced: settings.auth.required && permissionsInTokens,
      allowClientPublish: settings.allow_client_publish,
      isPublic: (channel) => open.has(channel),
    }
  }

  /** May this connection read `channel`? Throws INVALID_CHANNEL / FORBIDDEN. */
  checkRead(conn: Connection, channel: unknown): void {
    const match = matchChannelOrThrow(this.compiled, channel)
    if (!canRead(this.#access(conn), match.channel, ownerOf(match))) {
      throw new AppError(ErrorCode.FORBIDDEN, `Not authorized to subscribe to ${match.channel}${this.#why(conn)}`)
    }
  }

  /** Throws INVALID_CHANNEL unless `channel` is one of this service's channels. */
  checkChannel(channel: unknown): void {
    matchChannelOrThrow(this.compiled, channel)
  }

  /**
   * A publication offered here: channel, declared event and payload valid, and `from` (the
   * publishing connection, or null for trusted callers) may write the channel. Throws
   * INVALID_CHANNEL / INVALID_EVENT / FORBIDDEN.
   */
  publication(channel: unknown, event: unknown, data: unknown, from: Connection | null): Publication {
    const { owner, ...valid } = validatePublication(this.compiled, this.#spec.events, channel, event, data)
    if (from !== null && !canWrite(this.#access(from), valid.channel, owner)) {
      throw new AppError(ErrorCode.FORBIDDEN, `Not authorized to publish to ${valid.channel}${this.#why(from)}`)
    }
    return { id: this.#newEventId(), ...valid, timestamp: new Date().toISOString() }
  }

  /** Whose private channel `channel` is (null: a shared channel, or none of the service's). */
  ownerOf(channel: string): string | null {
    const match = matchChannel(this.compiled, channel)
    return match === null ? null : ownerOf(match)
  }

  /** A publication from another instance passes the same checks as one published here. */
  accepts(pub: Publication): boolean {
    try {
      validatePublication(this.compiled, this.#spec.events, pub.channel, pub.event, pub.data)
      return true
    } catch {
      return false
    }
  }

  /** What an anonymous connection on a locked service is told besides the refusal. */
  #why(conn: Connection): string {
    return conn.identity === null && this.#policy.locked ? ': authenticate first (this service requires a verified identity)' : ''
  }

  #access(conn: Connection): AccessContext {
    return { ...this.#policy, identity: conn.identity }
  }
}

/** The settings' history rules; each must name channels of this service (else a typo would keep nothing). */
export function historyChannelsOf(spec: Pick<ServiceSpec, 'name' | 'channels'>, settings: Settings): HistoryChannels {
  const problems = settings.history.flatMap((h, i) =>
    spec.channels.some((c) => patternsOverlap(c.pattern, h.channel))
      ? []
      : [`history.${i}.channel: ${h.channel} matches none of the channels of ${spec.name} (${spec.channels.map((c) => c.pattern).join(', ')})`],
  )
  if (problems.length > 0) throw new SettingsError(`settings of ${spec.name}`, problems)
  return new HistoryChannels(settings.history.map((h) => ({ channel: h.channel, size: h.size, ttlMs: h.ttl * 1000, metaTtlMs: h.position_ttl * 1000 })))
}
