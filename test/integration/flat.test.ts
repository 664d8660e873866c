import { afterEach, describe, expect, it } from 'vitest'
import type { SettingsInput } from '../../src/index.js'
import type { Frame } from '../helpers/client.js'
import { FlatClient } from '../helpers/flat.js'
import { startServer, type Started } from '../helpers/server.js'
import { FlatTestServer } from '../fixtures/flat-service.js'

let s: Started<FlatTestServer>
const clients: FlatClient[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await s?.server.close()
})

async function start(settings: SettingsInput = {}): Promise<void> {
  s = await startServer((st, o) => new FlatTestServer(st, o), settings)
}

/** Connects a flat client and returns it with its `connected` frame. */
async function connect(query = ''): Promise<{ c: FlatClient; hello: Frame }> {
  const c = await FlatClient.open(`${s.url}${query}`)
  clients.push(c)
  return { c, hello: c.connected as Frame }
}

describe('the flat dialect over real sockets (docs/protocol.md B)', () => {
  it('greets with {type:"connected", client_id:"ws_<base36 ms>_<random>", timestamp} and auto-subscribes global', async () => {
    await start()
    const before = Date.now()
    const { c, hello } = await connect()
    expect(Object.keys(hello)).toEqual(['type', 'client_id', 'timestamp'])
    expect(hello.client_id).toMatch(/^ws_[0-9a-z]+_[0-9a-z]+$/)
    const ms = parseInt((hello.client_id as string).split('_')[1]!, 36)
    expect(ms).toBeGreaterThanOrEqual(before - 1000)
    expect(hello.timestamp).toBeTypeOf('number')
    const pub = s.server.emit('global', 'message.new', { content: 'hi' })
    const ev = await c.next((f) => f.type === 'event')
    expect(ev).toEqual({ type: 'event', id: pub.id, channel: 'global', event: 'message.new', data: { content: 'hi' }, timestamp: Date.parse(pub.timestamp) })
    expect(pub.id).toMatch(/^msg_/)
  })

  it('acks subscribe and unsubscribe with the echoed id and timestamp; refusals are success:false with a code', async () => {
    await start()
    const { c } = await connect()
    c.send({ type: 'subscribe', channel: 'topics/a', id: 'sub-1', timestamp: 1706000000000 })
    expect(await c.next((f) => f.id === 'sub-1')).toMatchObject({ type: 'ack', id: 'sub-1', success: true, timestamp: 1706000000000 })
    s.server.emit('topics/a', 'message.new', { content: 'one' })
    expect(await c.next((f) => f.type === 'event')).toMatchObject({ channel: 'topics/a', data: { content: 'one' } })
    expect(await c.op({ type: 'unsubscribe', channel: 'topics/a' })).toMatchObject({ success: true })
    s.server.emit('topics/a', 'message.new', { content: 'two' })
    s.server.emit('global', 'message.new', { content: 'three' })
    expect(await c.next((f) => f.type === 'event')).toMatchObject({ channel: 'global', data: { content: 'three' } })
    expect(await c.op({ type: 'subscribe', channel: 'bad/channel/path' })).toMatchObject({ success: false, code: 'INVALID_CHANNEL', error: expect.any(String) })
    expect(await c.op({ type: 'subscribe' })).toMatchObject({ success: false, code: 'INVALID_CHANNEL' })
    expect(await c.op({ type: 'subscribe', channel: 'agents/someone' })).toMatchObject({ success: false, code: 'FORBIDDEN' })
  })

  it('publish: acked then delivered when allowed; success:false FORBIDDEN or INVALID_EVENT when refused', async () => {
    await start({ allow_client_publish: true })
    const { c: pub } = await connect()
    const { c: sub } = await connect()
    expect(await sub.op({ type: 'subscribe', channel: 'topics/t' })).toMatchObject({ success: true })
    const ack = await pub.op({ type: 'publish', channel: 'topics/t', event: 'message.new', data: { content: 'x' } })
    expect(ack).toMatchObject({ type: 'ack', success: true, message_id: expect.stringMatching(/^msg_/) })
    expect(await sub.next((f) => f.type === 'event' && f.channel === 'topics/t')).toMatchObject({ id: ack.message_id, event: 'message.new', data: { content: 'x' } })
    expect(await pub.op({ type: 'publish', channel: 'topics/t', event: 'nope', data: {} })).toMatchObject({ success: false, code: 'INVALID_EVENT' })
    await s.server.close()
    await start()
    const { c } = await connect()
    expect(await c.op({ type: 'publish', channel: 'topics/t', event: 'message.new', data: { content: 'x' } })).toMatchObject({ success: false, code: 'FORBIDDEN' })
  })

  it('an auth frame identifies the agent and joins agents/{id} and sessions/{id}; bad credentials are refused, the socket stays open', async () => {
    await start()
    const { c } = await connect()
    expect(await c.op({ type: 'auth', agent_id: 'a1', session_id: 's1' })).toMatchObject({ success: true, agent_id: 'a1', session_id: 's1' })
    s.server.emit('agents/a1', 'message.new', { content: 'private' })
    expect(await c.next((f) => f.type === 'event')).toMatchObject({ channel: 'agents/a1' })
    s.server.emit('sessions/s1', 'task.created', { task_id: 't1' })
    expect(await c.next((f) => f.type === 'event')).toMatchObject({ channel: 'sessions/s1' })
    const { c: other } = await connect()
    expect(await other.op({ type: 'auth', session_id: 's1' })).toMatchObject({ success: false, code: 'AUTH_FAILED' })
    expect(await other.op({ type: 'subscribe', channel: 'agents/a1' })).toMatchObject({ success: false, code: 'FORBIDDEN' })
  })

  it('reads agent_id and session_id from the upgrade URL', async () => {
    await start()
    const { c } = await connect('?agent_id=a2&session_id=s2')
    await c.pingFlat()
    s.server.emit('agents/a2', 'message.new', { content: 'for a2' })
    expect(await c.next((f) => f.type === 'event')).toMatchObject({ channel: 'agents/a2' })
    expect(s.server.info()).toMatchObject({ clients: [{ user_id: 'a2' }] })
  })

  it('answers ping with pong echoing the timestamp; acks of unknown message ids are ignored', async () => {
    await start()
    const { c } = await connect()
    c.send({ type: 'ack', message_id: 'msg_unknown' })
    c.send({ type: 'ping', timestamp: 1706000000000 })
    expect(await c.next()).toEqual({ type: 'pong', timestamp: 1706000000000 })
  })

  it('sends {error, code, timestamp} for frames it cannot read and keeps the connection open', async () => {
    await start()
    const { c } = await connect()
    c.send('not json')
    const err = await c.next()
    expect(Object.keys(err)).toEqual(['error', 'code', 'timestamp'])
    expect(err).toMatchObject({ error: 'Frame is not valid JSON', code: 'DECODE_ERROR' })
    c.send({ type: 'launch' })
    expect(await c.next()).toMatchObject({ code: 'DECODE_ERROR', error: expect.stringContaining('launch') })
    c.send({ type: 'subscribe', id: 7 })
    expect(await c.next()).toMatchObject({ code: 'DECODE_ERROR', error: "Field 'id' must be a string" })
    await c.pingFlat()
  })

  it('pings every flat.ping_interval and closes a silent client 4000 "Heartbeat timeout"; a client that answers stays', async () => {
    await start({ flat: { ping_interval: 0.05, heartbeat_timeout: 0.4 } })
    const { c: silent } = await connect()
    const { c: alive } = await connect()
    let pings = 0
    // The silent one is gone after ~0.4 s; the answering one outlives twice that (16 pings).
    const outlived = new Promise<void>((resolve) => {
      alive.ws.on('message', (raw) => {
        if ((JSON.parse(raw.toString()) as Frame).type !== 'ping') return
        alive.send({ type: 'pong' })
        if (++pings === 16) resolve()
      })
    })
    expect(await silent.next((f) => f.type === 'ping')).toMatchObject({ type: 'ping', timestamp: expect.any(Number) })
    expect(await silent.closed).toEqual({ code: 4000, reason: 'Heartbeat timeout' })
    await outlived
    expect(alive.ws.readyState).toBe(alive.ws.OPEN)
    expect(s.server.stats.heartbeatTimeouts).toBe(1)
  })
})
