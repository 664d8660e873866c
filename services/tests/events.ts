import { z } from 'zod'
import type { EventRoutes } from '../common/broadcaster.js'

const runId = z.string().min(1)
const project = z.string().min(1)
const present = z.unknown().refine((v) => v !== undefined, 'Required')

/** Payload schemas of the tests service's events (docs/protocol.md C). Extra fields pass through. */
export const testsEvents = {
  'test.started': z.looseObject({ run_id: runId }),
  'test.completed': z.looseObject({ run_id: runId }),
  'test.failed': z.looseObject({ run_id: runId, test: z.string().min(1), error: present }),
  'quality_gate.checked': z.looseObject({ project, status: z.string().min(1) }),
  'coverage.updated': z.looseObject({ project, coverage: z.number().finite() }),
} as const

export type TestsEvents = typeof testsEvents

const toRun = (d: { run_id: string }) => `test:${d.run_id}`

/** The channel each event goes to when in-process code broadcasts it. */
export const testsRoutes: EventRoutes<TestsEvents> = {
  'test.started': toRun,
  'test.completed': toRun,
  'test.failed': toRun,
  'quality_gate.checked': (d) => `quality:${d.project}`,
  'coverage.updated': () => 'coverage',
}
