import { z } from 'zod'
import type { ChannelSpec } from '../../src/protocol/channels.js'
import { type ServerOptions, WebSocketServer } from '../../src/server/websocket-server.js'
import type { Settings } from '../../src/config/settings.js'
import { serviceStatus } from '../../src/server/service-status.js'
import { channels, defaultPort } from './meta.js'
import { createBroadcaster } from '../common/broadcaster.js'
import { type SessionEvents, sessionEvents, sessionRoutes } from './events.js'
import { SessionProjection } from './projection.js'

// get_status is both the built-in service status and session-buddy's per-session status.
const GetStatusParamsSchema = z.looseObject({ session_id: z.string().min(1).nullish() })

/** The session service (replaces session-buddy): sessions, checkpoints, captured knowledge. */
export class SessionServer extends WebSocketServer<SessionEvents> {
  static readonly defaultPort = defaultPort
  static readonly channels: readonly ChannelSpec[] = channels
  readonly projection: SessionProjection
  /** Typed in-process publishing: `server.broadcast.sessionCheckpoint({ session_id })`. */
  readonly broadcast = createBroadcaster(this, sessionRoutes)

  constructor(settings: Settings, options?: ServerOptions) {
    const projection = new SessionProjection()
    super(
      {
        name: 'session',
        welcome: 'Connected to Session-Buddy',
        channels: SessionServer.channels,
        events: sessionEvents,
        hooks: { onPublication: (pub) => projection.apply(pub) },
      },
      settings,
      options,
    )
    this.projection = projection
    // With session_id: that session (or not_found); without (or null): the service's own status, as elsewhere.
    this.requests.register('get_status', GetStatusParamsSchema, ({ session_id }) => {
      if (session_id === undefined || session_id === null) return serviceStatus(this)
      return this.projection.sessionStatus(session_id) ?? { session_id, status: 'not_found' }
    })
  }
}

/** Builds the session server (services/catalog.ts loads this module only to run one). */
export function createSession(settings: Settings, options?: ServerOptions): SessionServer {
  return new SessionServer(settings, options)
}
