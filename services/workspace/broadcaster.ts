import type { z } from 'zod'
import type { Publication } from '../../src/index.js'
import {
  type Diagnostic,
  type FileEvent,
  type GitEventType,
  type ValidationResult,
  WORKSPACE_CHANNELS,
  type WorkspaceEventName,
  type WorkspaceEvents,
} from './events.js'

/**
 * Where the broadcaster publishes: the workspace server itself (`server.emit`), or anything with
 * the same validated, type-checked publish (a hand-written fake in tests).
 */
export interface WorkspaceEmitter {
  emit<K extends WorkspaceEventName>(channel: string, event: K, data: z.input<WorkspaceEvents[K]>): Publication
}

/** Extra fields a git event may carry beside the seed's `type` and `message`. */
export interface GitDetails {
  readonly branch?: string | null
  readonly commit?: string | null
  readonly [key: string]: unknown
}

/**
 * The seed's typed broadcaster, with exactly its six emitters (positional, as Cluso's handlers
 * call them). Each one validates against the event's schema and throws INVALID_EVENT when the
 * payload fails it; each returns the accepted publication.
 */
export interface WorkspaceBroadcaster {
  fileChanged(file: string, event: FileEvent): Publication
  diagnosticsUpdated(diags: readonly Diagnostic[]): Publication
  aiChunk(id: string, chunk: string, index: number, finished: boolean): Publication
  searchProgress(query: string, count: number, total: number, results: readonly unknown[]): Publication
  validationComplete(result: ValidationResult): Publication
  gitEvent(type: GitEventType, message: string, details?: GitDetails): Publication
}

/** Builds the broadcaster over `target`; every event goes to its channel (WORKSPACE_CHANNELS). */
export function createWorkspaceBroadcaster(target: WorkspaceEmitter): WorkspaceBroadcaster {
  const now = () => new Date().toISOString()
  const send = <K extends WorkspaceEventName>(event: K, data: z.input<WorkspaceEvents[K]>) =>
    target.emit(WORKSPACE_CHANNELS[event], event, data)
  return Object.freeze({
    fileChanged: (file: string, event: FileEvent) => send('file.changed', { file, event, timestamp: now() }),
    diagnosticsUpdated: (diags: readonly Diagnostic[]) => send('diagnostics.updated', { diagnostics: [...diags], timestamp: now() }),
    aiChunk: (id: string, chunk: string, index: number, finished: boolean) =>
      send('ai.chunk', { id, chunk, index, finished, timestamp: now() }),
    searchProgress: (query: string, count: number, total: number, results: readonly unknown[]) =>
      send('search.progress', { query, count, total, results: [...results], timestamp: now() }),
    validationComplete: (result: ValidationResult) => send('validation.complete', { result, timestamp: now() }),
    // The seed's two fields win over details of the same name.
    gitEvent: (type: GitEventType, message: string, details: GitDetails = {}) =>
      send('git.event', { ...details, type, message, timestamp: now() }),
  })
}
