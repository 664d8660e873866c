// What the CLI knows of the workflow service before it runs one (services/catalog.ts): no server code here.
import type { ChannelSpec } from '../../src/protocol/channels.js'

export const defaultPort = 8690

export const channels: readonly ChannelSpec[] = [
  { pattern: 'workflow:{id}' },
  { pattern: 'pool:{id}' },
  { pattern: 'worker:{id}' },
  { pattern: 'goal-teams' },
  { pattern: 'goal-teams:{user}', privateTo: 'user' },
  { pattern: 'adapters' },
  { pattern: 'code' },
  { pattern: 'global' },
]
