import { afterEach, describe, expect, it } from 'vitest'
import { TestClient } from '../helpers/client.js'
import { startService, type Started } from '../helpers/server.js'

const started = (id: string) => ({ workflow_id: id })

describe('subscribing (docs/protocol.md A.3)', () => {
  let s: Started
  afterEach(async () => s?.server.close())

  const forms: [string, (op: 'subscribe' | 'unsubscribe', channel: string) => Record<string, unknown>][] = [
    ['request with data.channel (canonical)', (op, channel) => ({ type: 'request', event: op, data: { channel } })],
    ['request with data.room', (op, room) => ({ type: 'request', event: op, data: { room } })],
    ['Python WebSocketClient: type event, event subscribe, data.room', (op, room) => ({ type: 'event', event: op, data: { room } })],
    ['type subscribe with data.channel', (op, channel) => ({ type: op, data: { channel } })],
    ['type subscribe with data.room', (op, room) => ({ type: op, data: { room } })],
  ]

  it.each(forms)('%s: answers subscribed, delivers events, then unsubscribed stops them', async (_form, build) => {
    s = await startService('workflow')
    const c = await TestClient.connect(s.url)
    c.send({ ...build('subscribe', 'workflow:w1'), correlation_id: 'c1' })
    const sub = await c.next()
    expect(sub).toMatchObject({ type: 'response', event: 'subscribe', correlation_id: 'c1', data: { status: 'subscribed', channel: 'workflow:w1' } })
    s.server.publish('workflow:w1', 'workflow.started', started('w1'))
    expect(await c.next()).toMatchObject({ type: 'event', event: 'workflow.started', room: 'workflow:w1', data: started('w1') })

    c.send({ ...build('unsubscribe', 'workflow:w1'), correlation_id: 'c2' })
    expect(await c.next()).toMatchObject({ type: 'response', event: 'unsubscribe', correlation_id: 'c2', data: { status: 'unsubscribed', channel: 'workflow:w1' } })
    await c.subscribe('workflow:w2')
    // Published in this order: if the unsubscribe had not taken, w1's event would arrive first.
    s.server.publish('workflow:w1', 'workflow.started', started('w1'))
    s.server.publish('workflow:w2', 'workflow.started', started('w2'))
    expect((await c.next()).room).toBe('workflow:w2')
    await c.close()
  })

  it('subscribing twice is idempotent: one answer each, one delivery per event', async () => {
    s = await startService('workflow')
    const c = await TestClient.connect(s.url)
    expect((await c.subscribe('global')).data).toEqual({ status: 'subscribed', channel: 'global' })
    expect((await c.subscribe('global')).data).toEqual({ status: 'subscribed', channel: 'global' })
    expect(s.server.roomCounts()).toEqual({ global: 1 })
    s.server.publish('global', 'workflow.started', started('a'))
    s.server.publish('global', 'workflow.started', started('b'))
    expect((await c.next()).data).toEqual(started('a'))
    expect((await c.next()).data).toEqual(started('b'))
    await c.close()
  })

  const badChannels: [string, unknown, string][] = [
    ['missing', undefined, 'Missing channel'],
    ['null', null, 'Missing channel'],
    ['a number', 42, 'Channel must be a string'],
    ['an object', { name: 'global' }, 'Channel must be a string'],
    ['empty', '', 'Channel must not be empty'],
    ['with a space', 'workflow:a b', 'Channel must not contain whitespace or control characters'],
    ['with a newline', 'global\n', 'Channel must not contain whitespace or control characters'],
    ['300 characters long', `workflow:${'x'.repeat(291)}`, 'Channel longer than 256 characters'],
    ['of no pattern of the service', 'session:s1', 'Unknown channel: session:s1'],
    ['with an empty parameter', 'workflow:', 'Unknown channel: workflow:'],
    ['with an extra segment', 'workflow:a:b', 'Unknown channel: workflow:a:b'],
  ]

  it.each(badChannels)('a channel that is %s → INVALID_CHANNEL, connection stays open', async (_what, channel, message) => {
    s = await startService('workflow')
    const c = await TestClient.connect(s.url)
    const err = await c.request('subscribe', channel === undefined ? {} : { channel })
    expect(err).toMatchObject({ type: 'error', error_code: 'INVALID_CHANNEL', error_message: message })
    const err2 = await c.request('unsubscribe', channel === undefined ? {} : { channel })
    expect(err2).toMatchObject({ type: 'error', error_code: 'INVALID_CHANNEL', error_message: message })
    await c.alive()
    expect(s.server.roomCount).toBe(0)
    await c.close()
  })

  it('the Python client form with no room → INVALID_CHANNEL, not silence', async () => {
    s = await startService('workflow')
    const c = await TestClient.connect(s.url)
    c.send({ type: 'event', event: 'subscribe', data: {} })
    expect(await c.next()).toMatchObject({ type: 'error', error_code: 'INVALID_CHANNEL', error_message: 'Missing channel' })
    await c.close()
  })

  it('a private channel of another user → FORBIDDEN', async () => {
    s = await startService('workflow')
    const c = await TestClient.connect(s.url)
    const err = await c.subscribe('goal-teams:alice')
    expect(err).toMatchObject({ type: 'error', error_code: 'FORBIDDEN', error_message: 'Not authorized to subscribe to goal-teams:alice' })
    await c.close()
  })

  it('max_subscriptions: the next channel → TOO_MANY_SUBSCRIPTIONS; held ones stay; a freed slot can be reused', async () => {
    s = await startService('workflow', { max_subscriptions: 2 })
    const c = await TestClient.connect(s.url)
    await c.subscribe('workflow:a')
    await c.subscribe('workflow:b')
    const err = await c.subscribe('workflow:c')
    expect(err).toMatchObject({ type: 'error', error_code: 'TOO_MANY_SUBSCRIPTIONS', error_message: 'Subscription limit reached (2 channels per connection)' })
    expect((await c.subscribe('workflow:b')).data?.status).toBe('subscribed')
    await c.request('unsubscribe', { channel: 'workflow:a' })
    expect((await c.subscribe('workflow:c')).data?.status).toBe('subscribed')
    expect(s.server.roomCounts()).toEqual({ 'workflow:b': 1, 'workflow:c': 1 })
    await c.close()
  })

  it('a closed connection leaves its rooms', async () => {
    s = await startService('workflow')
    const c = await TestClient.connect(s.url)
    await c.subscribe('workflow:a')
    await c.subscribe('global')
    const gone = new Promise<void>((resolve) => s.server.onDisconnect(() => resolve()))
    await c.close()
    await gone
    expect(s.server.roomCounts()).toEqual({})
    expect(s.server.connectionCount).toBe(0)
  })
})
