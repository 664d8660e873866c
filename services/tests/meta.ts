// What the CLI knows of the tests service before it runs one (services/catalog.ts): no server code here.
import type { ChannelSpec } from '../../src/protocol/channels.js'

export const defaultPort = 8686

export const channels: readonly ChannelSpec[] = [{ pattern: 'test:{run_id}' }, { pattern: 'quality:{project}' }, { pattern: 'coverage' }, { pattern: 'global' }]
