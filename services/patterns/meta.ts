// What the CLI knows of the patterns service before it runs one (services/catalog.ts): no server code here.
import type { ChannelSpec } from '../../src/protocol/channels.js'

export const defaultPort = 8692

export const channels: readonly ChannelSpec[] = [{ pattern: 'patterns:{category}' }, { pattern: 'anomalies' }, { pattern: 'insights' }, { pattern: 'metrics' }, { pattern: 'global' }]
