import { historyTemplate, patternsOverlap } from '../broker/history-channels.js'
import type { Settings } from '../config/settings.js'
import { type ChannelSpec, type CompiledChannel, compileChannel, matchChannel } from '../protocol/channels.js'

/**
 * The channels `public_channels` opens to connections without a verified identity on a locked
 * service (production or auth.required). Entries are written like `history` channels: one
 * channel (`global`), a template of the service (`topics/{topic}`) or a glob (`topics/*`).
 */
export class PublicChannels {
  readonly #compiled: readonly CompiledChannel[]

  constructor(patterns: readonly string[]) {
    this.#compiled = patterns.map((p) => compileChannel({ pattern: historyTemplate(p) }))
  }

  has(channel: string): boolean {
    return this.#compiled.length > 0 && matchChannel(this.#compiled, channel) !== null
  }
}

/**
 * What is wrong with `public_channels` for a service with these channels, one `key: why` per
 * problem: an entry that can name a private channel (a private channel is never public), or one
 * that names none of the service's channels (a typo would open nothing and say nothing).
 */
export function publicChannelProblems(service: string, channels: readonly ChannelSpec[], settings: Pick<Settings, 'public_channels'>): string[] {
  return settings.public_channels.flatMap((entry, i) => {
    const key = `public_channels.${i}`
    const privateOne = channels.find((c) => c.privateTo !== undefined && patternsOverlap(c.pattern, entry))
    if (privateOne !== undefined) {
      return [`${key}: ${entry} names the private channel ${privateOne.pattern} of ${service} (private to its {${privateOne.privateTo}}): a private channel cannot be public`]
    }
    if (!channels.some((c) => patternsOverlap(c.pattern, entry))) {
      return [`${key}: ${entry} matches none of the channels of ${service} (${channels.map((c) => c.pattern).join(', ')})`]
    }
    return []
  })
}
