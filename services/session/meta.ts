// What the CLI knows of the session service before it runs one (services/catalog.ts): no server code here.
import type { ChannelSpec } from '../../src/protocol/channels.js'

export const defaultPort = 8688

export const channels: readonly ChannelSpec[] = [{ pattern: 'session:{id}' }, { pattern: 'knowledge:{id}' }, { pattern: 'checkpoint:{id}' }, { pattern: 'global' }]
