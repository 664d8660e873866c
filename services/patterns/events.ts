import { z } from 'zod'
import type { EventRoutes } from '../common/broadcaster.js'

const present = z.unknown().refine((v) => v !== undefined, 'Required')

/** Payload schemas of the patterns service's events (docs/protocol.md C). Extra fields pass through. */
export const patternsEvents = {
  'pattern.detected': z.looseObject({ category: z.string().min(1), pattern: present }),
  'anomaly.detected': z.looseObject({ anomaly: present }),
  'insight.generated': z.looseObject({ insight: present }),
  'aggregation.completed': z.looseObject({}),
} as const

export type PatternsEvents = typeof patternsEvents

/** The channel each event goes to when in-process code broadcasts it. */
export const patternsRoutes: EventRoutes<PatternsEvents> = {
  'pattern.detected': (d) => `patterns:${d.category}`,
  'anomaly.detected': () => 'anomalies',
  'insight.generated': () => 'insights',
  'aggregation.completed': () => 'metrics',
}
