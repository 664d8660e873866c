import { z } from 'zod'
import type { ChannelSpec } from '../../src/protocol/channels.js'
import { type ServerOptions, WebSocketServer } from '../../src/server/websocket-server.js'
import type { Settings } from '../../src/config/settings.js'
import { channels, defaultPort } from './meta.js'
import { createBroadcaster } from '../common/broadcaster.js'
import { registerLookup } from '../common/lookup.js'
import { type PatternsEvents, patternsEvents, patternsRoutes } from './events.js'
import { PatternsProjection } from './projection.js'

/** The patterns service (replaces akosha): detected patterns, anomalies, insights, aggregations. */
export class PatternsServer extends WebSocketServer<PatternsEvents> {
  static readonly defaultPort = defaultPort
  static readonly channels: readonly ChannelSpec[] = channels
  readonly projection: PatternsProjection
  /** Typed in-process publishing: `server.broadcast.patternDetected({ category, pattern })`. */
  readonly broadcast = createBroadcaster(this, patternsRoutes)

  constructor(settings: Settings, options?: ServerOptions) {
    const projection = new PatternsProjection()
    super(
      {
        name: 'patterns',
        welcome: 'Connected to Akosha pattern detection',
        channels: PatternsServer.channels,
        events: patternsEvents,
        hooks: { onPublication: (pub) => projection.apply(pub) },
      },
      settings,
      options,
    )
    this.projection = projection
    registerLookup(this.requests, 'get_patterns', 'category', (category) => this.projection.patterns(category))
    this.requests.register('get_anomalies', z.looseObject({}), () => this.projection.recentAnomalies())
  }
}

/** Builds the patterns server (services/catalog.ts loads this module only to run one). */
export function createPatterns(settings: Settings, options?: ServerOptions): PatternsServer {
  return new PatternsServer(settings, options)
}
