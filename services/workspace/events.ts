import { isAbsolute } from 'node:path'
import { z } from 'zod'

/** What happened to a file under the workspace root (directories are not reported). */
export const FILE_EVENTS = ['add', 'change', 'unlink'] as const
export type FileEvent = (typeof FILE_EVENTS)[number]

/** The git source reports these two; other producers may name their own operations. */
export type GitEventType = 'branch' | 'commit' | (string & {})

const count = z.number().int().nonnegative()
/** Emitters stamp every event with an ISO-8601 time, as the seed's broadcaster did. */
const timestamp = z.string().min(1).optional()

/** A path relative to the workspace root, `/`-separated, never leaving it. */
export const RelativePathSchema = z
  .string()
  .min(1)
  .refine((p) => !isAbsolute(p) && !/^[a-zA-Z]:[\\/]/.test(p), 'must be relative to the workspace root')
  .refine((p) => !p.split(/[\\/]/).includes('..'), 'must not leave the workspace root')

/** One lint or type error; LSP-like, extra fields pass through. */
export const DiagnosticSchema = z.looseObject({
  file: RelativePathSchema,
  message: z.string(),
  severity: z.enum(['error', 'warning', 'info', 'hint']).optional(),
  line: count.optional(),
  column: count.optional(),
  source: z.string().optional(),
})

/** The outcome of a validation run. */
export const ValidationResultSchema = z.looseObject({
  valid: z.boolean(),
  errors: z.array(z.unknown()).optional(),
})

/**
 * Payload schemas of the workspace service's events (Cluso, seed 001), one family per channel.
 * Field names are the seed's: `fileChanged(file, event)` publishes `{file, event, timestamp}`.
 */
export const workspaceEvents = {
  'file.changed': z.looseObject({ file: RelativePathSchema, event: z.enum(FILE_EVENTS), timestamp }),
  /** A burst larger than the watcher's bound: `dropped` changes were not reported one by one; rescan. */
  'files.overflow': z.looseObject({ dropped: z.number().int().positive(), timestamp }),
  'diagnostics.updated': z.looseObject({ diagnostics: z.array(DiagnosticSchema), timestamp }),
  'ai.chunk': z.looseObject({ id: z.string().min(1), chunk: z.string(), index: count, finished: z.boolean(), timestamp }),
  'search.progress': z
    .looseObject({ query: z.string(), count, total: count, results: z.array(z.unknown()), timestamp })
    .refine((d) => d.count <= d.total, { message: 'count must not exceed total', path: ['count'] }),
  'validation.complete': z.looseObject({ result: ValidationResultSchema, timestamp }),
  'git.event': z.looseObject({ type: z.string().min(1), message: z.string(), timestamp }),
} as const

export type WorkspaceEvents = typeof workspaceEvents
export type WorkspaceEventName = keyof WorkspaceEvents
export type Diagnostic = z.input<typeof DiagnosticSchema>
export type ValidationResult = z.input<typeof ValidationResultSchema>

/** The channel of each event: a workspace client reads `files` for file events only, and so on. */
export const WORKSPACE_CHANNELS: Readonly<Record<WorkspaceEventName, string>> = {
  'file.changed': 'files',
  'files.overflow': 'files',
  'diagnostics.updated': 'diagnostics',
  'ai.chunk': 'ai-response',
  'search.progress': 'search',
  'validation.complete': 'validation',
  'git.event': 'git',
}

/** The service's event map as payload types, for typed clients: `WorkspaceEventMap['ai.chunk'].index`. */
export type WorkspaceEventMap = { [K in WorkspaceEventName]: z.output<WorkspaceEvents[K]> }
