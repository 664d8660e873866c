import { type AccessContext, canRead, canWrite } from '../auth/permissions.js'
import { HistoryChannels, patternsOverlap } from '../broker/history-channels.js'
import { type Settings, SettingsError } from '../config/settings.js'
import { type CompiledChannel, compileChannel } from '../protocol/channels.js'
import { AppError, ErrorCode } from '../protocol/codes.js'
import type { Publication } from '../protocol/messages.js'
import type { Connection } from './connection.js'
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
  readonly #settings: Settings
  readonly #newEventId: () => string

  constructor(spec: ChannelsAndEvents, settings: Settings, newEventId: () => string) {
    this.#spec = spec
    this.#settings = settings
    this.#newEventId = newEventId
    this.compiled = spec.channels.map(compileChannel)
  }

  /** May this connection read `channel`? Throws INVALID_CHANNEL / FORBIDDEN. */
  checkRead(conn: Connection, channel: unknown): void {
    const match = matchChannelOrThrow(this.compiled, channel)
    if (!canRead(this.#access(conn), match.channel, ownerOf(match))) {
      throw new AppError(ErrorCode.FORBIDDEN, `Not authorized to subscribe to ${match.channel}`)
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
      throw new AppError(ErrorCode.FORBIDDEN, `Not authorized to publish to ${valid.channel}`)
    }
    return { id: this.#newEventId(), ...valid, timestamp: new Date().toISOString() }
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

  #access(conn: Connection): AccessContext {
    return {
      service: this.#spec.name,
      identity: conn.identity,
      authRequired: this.#settings.auth.required,
      allowClientPublish: this.#settings.allow_client_publish,
    }
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
