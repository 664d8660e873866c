// What an application embedding a service imports, as the package entry `roomcast/services`
// (the core, `roomcast`, never imports services/).
export { createWorkspaceBroadcaster, type GitDetails, type WorkspaceBroadcaster, type WorkspaceEmitter } from './workspace/broadcaster.js'
export {
  type Diagnostic,
  DiagnosticSchema,
  FILE_EVENTS,
  type FileEvent,
  type GitEventType,
  RelativePathSchema,
  type ValidationResult,
  ValidationResultSchema,
  WORKSPACE_CHANNELS,
  type WorkspaceEventMap,
  type WorkspaceEventName,
  type WorkspaceEvents,
  workspaceEvents,
} from './workspace/events.js'
