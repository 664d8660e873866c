import type { ChannelSpec } from '../../src/protocol/channels.js'
import { type ServerOptions, WebSocketServer } from '../../src/server/websocket-server.js'
import type { Settings } from '../../src/config/settings.js'
import { channels, defaultPort } from './meta.js'
import { createBroadcaster } from '../common/broadcaster.js'
import { registerLookup } from '../common/lookup.js'
import { type WorkflowEvents, workflowEvents, workflowRoutes } from './events.js'
import { WorkflowProjection } from './projection.js'

/** The workflow service (replaces mahavishnu): workflows, pools, workers, goal teams, adapters. */
export class WorkflowServer extends WebSocketServer<WorkflowEvents> {
  static readonly defaultPort = defaultPort
  static readonly channels: readonly ChannelSpec[] = channels
  readonly projection: WorkflowProjection
  /** Typed in-process publishing: `server.broadcast.workflowStarted({ workflow_id })`. */
  readonly broadcast = createBroadcaster(this, workflowRoutes)

  constructor(settings: Settings, options?: ServerOptions) {
    const projection = new WorkflowProjection()
    super(
      {
        name: 'workflow',
        welcome: 'Connected to Mahavishnu orchestration',
        channels: WorkflowServer.channels,
        events: workflowEvents,
        hooks: { onPublication: (pub) => projection.apply(pub) },
      },
      settings,
      options,
    )
    this.projection = projection
    registerLookup(this.requests, 'get_workflow_status', 'workflow_id', (id) => this.projection.workflowStatus(id))
    registerLookup(this.requests, 'get_pool_status', 'pool_id', (id) => this.projection.poolStatus(id))
  }
}

/** Builds the workflow server (services/catalog.ts loads this module only to run one). */
export function createWorkflow(settings: Settings, options?: ServerOptions): WorkflowServer {
  return new WorkflowServer(settings, options)
}
