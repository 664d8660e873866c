// What an application embedding a service imports, as the package entry `roomcast/services`
// (the core, `roomcast`, never imports services/).
import type { z } from 'zod'
import type { contextEvents } from './context/events.js'
import type { patternsEvents } from './patterns/events.js'
import type { sessionEvents } from './session/events.js'
import type { testsEvents } from './tests/events.js'
import type { workflowEvents } from './workflow/events.js'
export { WorkspaceServer } from './workspace/index.js'
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

// Every service's event map as payload types, for the typed client:
// `new RoomcastClient<WorkflowEventMap>(…).on('workflow.started', (data) => data.workflow_id)`.

/** Event name → payload type, from a service's schema map. */
export type EventMapOf<S extends Record<string, z.ZodType>> = { [K in keyof S & string]: z.output<S[K]> }
export type WorkflowEventMap = EventMapOf<typeof workflowEvents>
export type SessionEventMap = EventMapOf<typeof sessionEvents>
export type PatternsEventMap = EventMapOf<typeof patternsEvents>
export type TestsEventMap = EventMapOf<typeof testsEvents>
export type ContextEventMap = EventMapOf<typeof contextEvents>
