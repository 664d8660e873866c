// What the CLI knows of the context service before it runs one (services/catalog.ts): no server code here.
import type { ChannelSpec } from '../../src/protocol/channels.js'
import type { SettingsInput } from '../../src/config/settings.js'
import { hmacFlatDialect } from '../common/flat-tokens.js'

export const defaultPort = 3849

export const channels: readonly ChannelSpec[] = [
  { pattern: 'global' },
  { pattern: 'metrics' },
  { pattern: 'agents/{id}', privateTo: 'id' },
  { pattern: 'sessions/{id}' },
  { pattern: 'topics/{topic}' },
]

/** Events agents must not miss: delivered at least once (docs/protocol.md A.8). */
export const trackedEvents: readonly string[] = ['task.*', 'subtask.*', 'message.*']

/**
 * The service's own settings defaults, under any settings file (`roomcast serve`): agents publish
 * over the socket, task, subtask and message events are tracked, and sessions and topics keep
 * presence with join/leave events. A file changes them only by naming them (`delivery.tracked: []`
 * turns tracking off, `presence: []` presence).
 */
export const defaults = {
  allow_client_publish: true,
  delivery: { tracked: [...trackedEvents] },
  presence: [
    { channel: 'sessions/{id}', join_leave: true },
    { channel: 'topics/{topic}', join_leave: true },
  ],
} satisfies Partial<SettingsInput>

/** The flat dialect with the HMAC token check (development: agent_id alone). */
export const dialect = hmacFlatDialect
