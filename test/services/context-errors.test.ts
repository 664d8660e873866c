import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ContextServer } from '../../services/context/index.js'
import { signHmacToken } from '../../src/index.js'
import { FlatClient } from '../helpers/flat.js'
import { startService, type Started } from '../helpers/server.js'

const SECRET = 'context-errors-secret-99'
let s: Started<ContextServer>
let c: FlatClient
beforeAll(async () => {
  s = await startService<ContextServer>('context', { allow_client_publish: true, auth: { token_secret: SECRET } })
  c = await FlatClient.open(s.url, { agent_id: 'tester' })
})
afterAll(async () => {
  await c?.close()
  await s?.server.close()
})

describe('context service: bad input gets a clear error and the connection stays open', () => {
  it.each([
    ['not JSON', '{"type":"subscribe",', /not valid JSON|JSON/i],
    ['an array', '[1,2]', /object/i],
    ['a number', '42', /object/i],
    ['no type', { channel: 'global' }, /type/],
    ['an unknown type', { type: 'explode' }, /explode/],
    ['a non-string id', { type: 'subscribe', channel: 'global', id: 7 }, /'id'/],
    ['an object timestamp', { type: 'ping', timestamp: {} }, /'timestamp'/],
  ])('undecodable frame: %s → DECODE_ERROR', async (_name, frame, message) => {
    const err = await c.flatError(frame)
    expect(err).toEqual({ error: expect.stringMatching(message), code: 'DECODE_ERROR', timestamp: expect.any(Number) })
    await c.pingFlat()
  })

  it.each([
    ['subscribe without channel', { type: 'subscribe' }, 'INVALID_CHANNEL', /Missing channel/],
    ['subscribe with a number channel', { type: 'subscribe', channel: 5 }, 'INVALID_CHANNEL', /must be a string/],
    ['subscribe to an unknown channel', { type: 'subscribe', channel: 'bad/channel/path' }, 'INVALID_CHANNEL', /bad\/channel\/path/],
    ['subscribe to an empty parameter', { type: 'subscribe', channel: 'topics/' }, 'INVALID_CHANNEL', /topics\//],
    ['subscribe to another agent', { type: 'subscribe', channel: 'agents/someone' }, 'FORBIDDEN', /agents\/someone/],
    ['unsubscribe without channel', { type: 'unsubscribe' }, 'INVALID_CHANNEL', /Missing channel/],
    ['publish without channel', { type: 'publish', event: 'task.created', data: { task_id: 't' } }, 'INVALID_CHANNEL', /Missing channel/],
    ['publish without event', { type: 'publish', channel: 'global', data: {} }, 'INVALID_EVENT', /Missing event/],
    ['publish with a number event', { type: 'publish', channel: 'global', event: 3, data: {} }, 'INVALID_EVENT', /event/i],
    ['publish an unknown event', { type: 'publish', channel: 'global', event: 'task.exploded', data: {} }, 'INVALID_EVENT', /task\.exploded/],
    ['publish string data', { type: 'publish', channel: 'global', event: 'task.created', data: 'x' }, 'INVALID_EVENT', /object/],
    ['publish without a required field', { type: 'publish', channel: 'global', event: 'task.created', data: {} }, 'INVALID_EVENT', /task_id/],
    ['publish an ill-typed field', { type: 'publish', channel: 'global', event: 'agent.heartbeat', data: { agent_id: 9 } }, 'INVALID_EVENT', /agent_id/],
    ['publish to another agent', { type: 'publish', channel: 'agents/other', event: 'message.new', data: { content: 'x' } }, 'FORBIDDEN', /agents\/other/],
    ['auth with a number agent_id', { type: 'auth', agent_id: 5 }, 'AUTH_FAILED', /agent_id/],
    ['auth as another agent', { type: 'auth', agent_id: 'someone-else' }, 'AUTH_FAILED', /Token identity does not match the connection/],
    ['auth with a garbled token', { type: 'auth', token: '%%%' }, 'AUTH_FAILED', /Malformed token/],
    ['auth with a number token', { type: 'auth', token: 12 }, 'AUTH_FAILED', /Malformed token/],
    ['auth with a forged token', { type: 'auth', token: signHmacToken({ agentId: 'tester' }, 'not-the-secret') }, 'AUTH_FAILED', /Invalid token signature/],
    ['auth with an expired token', { type: 'auth', token: signHmacToken({ agentId: 'tester' }, SECRET, -1) }, 'AUTH_FAILED', /Token expired/],
  ])('%s → ack success:false %s', async (_name, frame, code, message) => {
    const ack = await c.op(frame)
    expect(ack).toMatchObject({ type: 'ack', success: false, code, error: expect.stringMatching(message), timestamp: expect.any(Number) })
    await c.pingFlat()
  })

  it('acks for unknown, malformed or missing message ids never break the connection', async () => {
    for (const frame of [{ type: 'ack', message_id: 'msg_nope' }, { type: 'ack', message_id: 5 }, { type: 'ack' }]) {
      c.send(frame)
      await c.pingFlat()
    }
  })

  it.each([
    ['a garbled token', { token: 'garbage' }, /Malformed token/],
    ['an expired token', { token: signHmacToken({ agentId: 'x' }, SECRET, -10) }, /Token expired/],
    ['a forged token', { token: signHmacToken({ agentId: 'x' }, 'wrong-secret-entirely') }, /Invalid token signature/],
    ['an agent id with a slash', { agent_id: 'a/b' }, /agent_id must not contain/],
  ])('connecting with %s in the query: an AUTH_FAILED error frame, anonymous and still open', async (_name, query, message) => {
    const q = await FlatClient.open(s.url, query)
    const err = await q.next((f) => f.code === 'AUTH_FAILED')
    expect(err).toEqual({ error: expect.stringMatching(message), code: 'AUTH_FAILED', timestamp: expect.any(Number) })
    expect(await q.subscribeFlat('agents/x')).toMatchObject({ success: false, code: 'FORBIDDEN' })
    await q.pingFlat()
    await q.close()
  })

  it('after all of it the service is healthy and still delivers', async () => {
    const res = await fetch(`${s.http}/health`)
    expect(((await res.json()) as { status: string }).status).toBe('healthy')
    await c.publishFlat('global', 'system.error', { message: 'still fine' })
    expect((await c.event('system.error')).data).toEqual({ message: 'still fine' })
  })
})
