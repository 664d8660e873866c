import { z } from 'zod'
import { type ChannelSpec, type ServerOptions, type Settings, WebSocketServer } from '../../src/index.js'
import { createBroadcaster } from '../common/broadcaster.js'
import { registerLookup } from '../common/lookup.js'
import { type PatternsEvents, patternsEvents, patternsRoutes } from './events.js'
import { PatternsProjection } from './projection.js'

/** The patterns service (replaces akosha): detected patterns, anomalies, insights, aggregations. */
export class PatternsServer extends WebSocketServer<PatternsEvents> {
  static readonly defaultPort = 8692

  static readonly channels: readonly ChannelSpec[] = [{ pattern: 'patterns:{category}' }, { pattern: 'anomalies' }, { pattern: 'insights' }, { pattern: 'metrics' }, { pattern: 'global' }]
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
