import { z } from 'zod'
import type { EventRoutes } from '../common/broadcaster.js'

const sessionId = z.string().min(1)

/** Payload schemas of the session service's events (docs/protocol.md C). Extra fields pass through. */
export const sessionEvents = {
  'session.created': z.looseObject({ session_id: sessionId }),
  'session.updated': z.looseObject({ session_id: sessionId }),
  'session.checkpoint': z.looseObject({ session_id: sessionId }),
  'session.closed': z.looseObject({ session_id: sessionId }),
  'knowledge.captured': z.looseObject({ session_id: sessionId }),
  'knowledge.search_result': z.looseObject({ session_id: sessionId, query: z.string() }),
} as const

export type SessionEvents = typeof sessionEvents

const toSession = (d: { session_id: string }) => `session:${d.session_id}`
const toKnowledge = (d: { session_id: string }) => `knowledge:${d.session_id}`

/** The channel each event goes to when in-process code broadcasts it. */
export const sessionRoutes: EventRoutes<SessionEvents> = {
  'session.created': toSession,
  'session.updated': toSession,
  'session.checkpoint': (d) => `checkpoint:${d.session_id}`,
  'session.closed': toSession,
  'knowledge.captured': toKnowledge,
  'knowledge.search_result': toKnowledge,
}
