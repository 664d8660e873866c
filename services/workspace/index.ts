import { AppError, ErrorCode } from '../../src/protocol/codes.js'
import type { ChannelSpec } from '../../src/protocol/channels.js'
import type { Publication } from '../../src/protocol/messages.js'
import { type ServerOptions, WebSocketServer } from '../../src/server/websocket-server.js'
import type { Settings } from '../../src/config/settings.js'
import { FileWatcherSource } from '../../src/sources/file-watcher.js'
import { GitWatcherSource } from '../../src/sources/git-watcher.js'
import * as meta from './meta.js'
import { createWorkspaceBroadcaster } from './broadcaster.js'
import { ChunkOrder } from './chunk-order.js'
import { WORKSPACE_CHANNELS, type WorkspaceEventName, type WorkspaceEvents, workspaceEvents } from './events.js'

/**
 * The workspace service (the Cluso workspace server, seed 001), flat dialect: file changes and
 * git moves from its own sources, and diagnostics, AI responses, search and validation from
 * the application that embeds it (`server.broadcast.aiChunk(…)`) or publishes over HTTP/MCP.
 */
export class WorkspaceServer extends WebSocketServer<WorkspaceEvents> {
  static readonly defaultPort = meta.defaultPort

  static readonly channels: readonly ChannelSpec[] = meta.channels
  /** The flat dialect with the HMAC token check, the context service's (development: agent_id alone). */
  static readonly dialect = meta.dialect
  /** The seed's typed emitters: `server.broadcast.fileChanged('src/main.ts', 'change')`. */
  readonly broadcast = createWorkspaceBroadcaster(this)
  /** The sources, when `workspace.root` is set. */
  readonly files: FileWatcherSource | null = null
  readonly git: GitWatcherSource | null = null

  constructor(settings: Settings, options?: ServerOptions) {
    const chunks = new ChunkOrder(settings.workspace.max_ai_streams)
    super(
      {
        name: 'workspace',
        welcome: 'Connected to the Cluso workspace server',
        channels: WorkspaceServer.channels,
        events: workspaceEvents,
        dialect: WorkspaceServer.dialect,
        hooks: { admitPublication: (pub) => admitWorkspace(pub, chunks) },
      },
      settings,
      options,
    )
    const ws = settings.workspace
    if (ws.root === null) return
    const debounceMs = ws.debounce * 1000
    this.files = new FileWatcherSource(
      { root: ws.root, ignore: ws.ignore, debounceMs, maxPending: ws.max_pending, logger: this.log },
      {
        fileChanged: (file, event) => this.broadcast.fileChanged(file, event),
        overflow: (dropped) => this.emit('files', 'files.overflow', { dropped, timestamp: new Date().toISOString() }),
      },
    )
    this.git = new GitWatcherSource({ root: ws.root, debounceMs, logger: this.log }, { gitEvent: (type, message, d) => this.broadcast.gitEvent(type, message, d) })
    this.use(this.files).use(this.git)
  }
}

/**
 * Every publication offered here (socket, HTTP, MCP, in process) must go to its event's own
 * channel, and the chunks of one AI response stream must come in index order.
 */
function admitWorkspace(pub: Publication, chunks: ChunkOrder): () => void {
  const home = WORKSPACE_CHANNELS[pub.event as WorkspaceEventName]
  if (pub.channel !== home) throw new AppError(ErrorCode.INVALID_EVENT, `${pub.event} is published on ${home}, not ${pub.channel}`)
  return pub.event === 'ai.chunk' ? chunks.take(workspaceEvents['ai.chunk'].parse(pub.data)) : () => {}
}

/** Builds the workspace server (services/catalog.ts loads this module only to run one). */
export function createWorkspace(settings: Settings, options?: ServerOptions): WorkspaceServer {
  return new WorkspaceServer(settings, options)
}
