import type { JsonObject, Publication } from '../../src/index.js'
import { BoundedMap } from '../../src/util/bounded-map.js'

interface SessionState {
  status: string
  checkpoints: number
  knowledgeCaptured: number
  searches: number
  lastQuery: string | null
  lastEvent: string
  updatedAt: string
}

const STATUS_BY_EVENT: Readonly<Record<string, string>> = {
  'session.created': 'active',
  'session.closed': 'closed',
}

/** What the session service remembers of its own events: bounded, least recently updated evicted first. */
export class SessionProjection {
  readonly sessions: BoundedMap<string, SessionState>

  constructor(capacity = 10_000) {
    this.sessions = new BoundedMap(capacity)
  }

  /** Folds one delivered event into the state. Payloads were validated by the event schemas. */
  apply(pub: Publication): void {
    const d = pub.data
    const key = String(d.session_id)
    // Events of a session whose creation this instance never saw still count.
    const s = this.sessions.get(key) ?? {
      status: 'active',
      checkpoints: 0,
      knowledgeCaptured: 0,
      searches: 0,
      lastQuery: null,
      lastEvent: pub.event,
      updatedAt: pub.timestamp,
    }
    // A payload may state its own status (e.g. session.updated {status: "idle"}); closed is final.
    const stated = typeof d.status === 'string' && d.status.length > 0 ? d.status : undefined
    s.status = STATUS_BY_EVENT[pub.event] ?? (s.status === 'closed' ? s.status : (stated ?? s.status))
    if (pub.event === 'session.checkpoint') s.checkpoints++
    if (pub.event === 'knowledge.captured') s.knowledgeCaptured++
    if (pub.event === 'knowledge.search_result') {
      s.searches++
      s.lastQuery = String(d.query)
    }
    s.lastEvent = pub.event
    s.updatedAt = pub.timestamp
    this.sessions.set(key, s)
  }

  /** The answer of get_status {session_id}, or undefined for a session never seen. */
  sessionStatus(id: string): JsonObject | undefined {
    const s = this.sessions.get(id)
    if (s === undefined) return undefined
    return {
      session_id: id,
      status: s.status,
      checkpoints: s.checkpoints,
      knowledge_captured: s.knowledgeCaptured,
      searches: s.searches,
      last_query: s.lastQuery,
      last_event: s.lastEvent,
      updated_at: s.updatedAt,
    }
  }
}
