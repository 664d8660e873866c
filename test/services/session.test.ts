import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { SessionServer } from '../../services/session/index.js'
import { TestClient } from '../helpers/client.js'
import { broadcastEach, type EventCase, expectEveryEventCovered, publishEach, publishError } from '../helpers/events.js'
import { startService, type Started } from '../helpers/server.js'

const CASES: EventCase[] = [
  { event: 'session.created', channel: 'session:s1', data: { session_id: 's1', project: 'roomcast' } },
  { event: 'session.updated', channel: 'session:s1', data: { session_id: 's1', status: 'idle' } },
  { event: 'session.checkpoint', channel: 'checkpoint:s1', data: { session_id: 's1', quality_score: 91 } },
  { event: 'session.closed', channel: 'session:s1', data: { session_id: 's1' } },
  { event: 'knowledge.captured', channel: 'knowledge:s1', data: { session_id: 's1', content: 'use port 0' } },
  { event: 'knowledge.search_result', channel: 'knowledge:s1', data: { session_id: 's1', query: 'ports', results: [] } },
]

describe('session service', () => {
  let s: Started<SessionServer>
  let c: TestClient
  beforeEach(async () => {
    s = await startService<SessionServer>('session', { allow_client_publish: true })
    c = await TestClient.connect(s.url)
  })
  afterEach(async () => {
    await c.close()
    await s.server.close()
  })

  it('welcomes with the Session-Buddy text', async () => {
    const raw = new TestClient(s.url)
    expect((await raw.next()).data).toMatchObject({ server: 'session', message: 'Connected to Session-Buddy' })
    await raw.close()
  })

  it('delivers every declared event published over the socket on its channel', async () => {
    expectEveryEventCovered(s.server, CASES)
    await publishEach(c, CASES)
  })

  it('routes every event of the typed broadcaster to its default channel', async () => {
    await broadcastEach(s.server, c, CASES)
  })

  it('rejects an invalid payload with INVALID_EVENT naming the field', async () => {
    const err = await publishError(c, 'knowledge:s1', 'knowledge.search_result', { session_id: 's1' })
    expect(err.code).toBe('INVALID_EVENT')
    expect(err.message).toMatch(/'query'/)
    expect((await publishError(c, 'session:s1', 'session.created', { session_id: '' })).message).toMatch(/'session_id'/)
  })

  it('answers get_status {session_id} from created → checkpoint → knowledge → closed', async () => {
    await c.request('publish', { channel: 'session:s2', event: 'session.created', data: { session_id: 's2' } })
    s.server.broadcast.sessionCheckpoint({ session_id: 's2' })
    s.server.broadcast.sessionCheckpoint({ session_id: 's2' })
    s.server.broadcast.knowledgeCaptured({ session_id: 's2', content: 'x' })
    s.server.broadcast.knowledgeSearchResult({ session_id: 's2', query: 'zod' })
    expect((await c.request('get_status', { session_id: 's2' })).data).toMatchObject({
      session_id: 's2',
      status: 'active',
      checkpoints: 2,
      knowledge_captured: 1,
      searches: 1,
      last_query: 'zod',
      last_event: 'knowledge.search_result',
    })
    s.server.broadcast.sessionClosed({ session_id: 's2' })
    s.server.broadcast.sessionUpdated({ session_id: 's2', status: 'idle' })
    expect((await c.request('get_status', { session_id: 's2' })).data).toMatchObject({ status: 'closed' })
  })

  it('answers get_status without session_id with the service status, and not_found for an unknown session', async () => {
    expect((await c.request('get_status', {})).data).toMatchObject({ service: 'session', status: 'healthy', connections: 1 })
    expect((await c.request('get_status', { session_id: null })).data).toMatchObject({ service: 'session', status: 'healthy' })
    expect((await c.request('get_status', { session_id: 'nope' })).data).toEqual({ session_id: 'nope', status: 'not_found' })
    const err = await c.request('get_status', { session_id: 7 })
    expect(err.error_code).toBe('INVALID_PARAMS')
    expect(err.error_message).toMatch(/'session_id'/)
  })
})
