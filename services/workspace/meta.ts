// What the CLI knows of the workspace service before it runs one (services/catalog.ts): no server code here.
import type { ChannelSpec } from '../../src/protocol/channels.js'
import { hmacFlatDialect } from '../common/flat-tokens.js'
import { WORKSPACE_CHANNELS } from './events.js'

export const defaultPort = 3850

export const channels: readonly ChannelSpec[] = [...new Set(Object.values(WORKSPACE_CHANNELS))].map((pattern) => ({ pattern }))

/** The flat dialect with the HMAC token check, the context service's (development: agent_id alone). */
export const dialect = hmacFlatDialect
