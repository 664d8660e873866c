import { describe, expect, it } from 'vitest'
import type { SessionServer } from '../../services/session/index.js'
import type { EventCase } from '../helpers/events.js'
import { envelopeServiceSuite } from '../helpers/service-suite.js'

const CASES: EventCase[] = [
  { event: 'session.created', channel: 'session:s1', data: { session_id: 's1', project: 'roomcast' } },
  { event: 'session.updated', channel: 'session:s1', data: { session_id: 's1', status: 'idle' } },
  { event: 'session.checkpoint', channel: 'checkpoint:s1', data: { session_id: 's1', quality_score: 91 } },
  { event: 'session.closed', channel: 'session:s1', data: { session_id: 's1' } },
  { event: 'knowledge.captured', channel: 'knowledge:s1', data: { session_id: 's1', content: 'use port 0' } },
  { event: 'knowledge.search_result', channel: 'knowledge:s1', data: { session_id: 's1', query: 'ports', results: [] } },
]

describe('session service', () => {
  const t = envelopeServiceSuite<SessionServer>('session', {
    welcome: 'Connected to Session-Buddy',
    cases: CASES,
    invalid: [
      { channel: 'knowledge:s1', event: 'knowledge.search_result', data: { session_id: 's1' }, names: /'query'/ },
      { channel: 'session:s1', event: 'session.created', data: { session_id: '' }, names: /'session_id'/ },
    ],
  })

  it('answers get_status {session_id} from created → checkpoint → knowledge → closed', async () => {
    await t.client.request('publish', { channel: 'session:s2', event: 'session.created', data: { session_id: 's2' } })
    t.server.broadcast.sessionCheckpoint({ session_id: 's2' })
    t.server.broadcast.sessionCheckpoint({ session_id: 's2' })
    t.server.broadcast.knowledgeCaptured({ session_id: 's2', content: 'x' })
    t.server.broadcast.knowledgeSearchResult({ session_id: 's2', query: 'zod' })
    expect((await t.client.request('get_status', { session_id: 's2' })).data).toMatchObject({
      session_id: 's2',
      status: 'active',
      checkpoints: 2,
      knowledge_captured: 1,
      searches: 1,
      last_query: 'zod',
      last_event: 'knowledge.search_result',
    })
    t.server.broadcast.sessionClosed({ session_id: 's2' })
    t.server.broadcast.sessionUpdated({ session_id: 's2', status: 'idle' })
    expect((await t.client.request('get_status', { session_id: 's2' })).data).toMatchObject({ status: 'closed' })
  })

  it('answers get_status without session_id with the service status, and not_found for an unknown session', async () => {
    expect((await t.client.request('get_status', {})).data).toMatchObject({ service: 'session', status: 'healthy', connections: 1 })
    expect((await t.client.request('get_status', { session_id: null })).data).toMatchObject({ service: 'session', status: 'healthy' })
    expect((await t.client.request('get_status', { session_id: 'nope' })).data).toEqual({ session_id: 'nope', status: 'not_found' })
    const err = await t.client.request('get_status', { session_id: 7 })
    expect(err.error_code).toBe('INVALID_PARAMS')
    expect(err.error_message).toMatch(/'session_id'/)
  })
})
