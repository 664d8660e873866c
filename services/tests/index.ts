import type { ChannelSpec } from '../../src/protocol/channels.js'
import { type ServerOptions, WebSocketServer } from '../../src/server/websocket-server.js'
import type { Settings } from '../../src/config/settings.js'
import { channels, defaultPort } from './meta.js'
import { createBroadcaster } from '../common/broadcaster.js'
import { registerLookup } from '../common/lookup.js'
import { type TestsEvents, testsEvents, testsRoutes } from './events.js'
import { TestsProjection } from './projection.js'

/** The tests service (replaces crackerjack): test runs, quality gates, coverage. */
export class TestsServer extends WebSocketServer<TestsEvents> {
  static readonly defaultPort = defaultPort
  static readonly channels: readonly ChannelSpec[] = channels
  readonly projection: TestsProjection
  /** Typed in-process publishing: `server.broadcast.testFailed({ run_id, test, error })`. */
  readonly broadcast = createBroadcaster(this, testsRoutes)

  constructor(settings: Settings, options?: ServerOptions) {
    const projection = new TestsProjection()
    super(
      {
        name: 'tests',
        welcome: 'Connected to Crackerjack quality monitoring',
        channels: TestsServer.channels,
        events: testsEvents,
        hooks: { onPublication: (pub) => projection.apply(pub) },
      },
      settings,
      options,
    )
    this.projection = projection
    registerLookup(this.requests, 'get_test_status', 'run_id', (id) => this.projection.runStatus(id))
    registerLookup(this.requests, 'get_quality_gate', 'project', (project) => this.projection.gateStatus(project))
  }
}

/** Builds the tests server (services/catalog.ts loads this module only to run one). */
export function createTests(settings: Settings, options?: ServerOptions): TestsServer {
  return new TestsServer(settings, options)
}
