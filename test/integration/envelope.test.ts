import { afterEach, describe, expect, it } from 'vitest'
import { TestClient } from '../helpers/client.js'
import { startService, type Started } from '../helpers/server.js'

const KEYS = ['id', 'correlation_id', 'type', 'event', 'data', 'timestamp', 'room', 'error_code', 'error_message']
const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

/** Every frame: nine keys in order, compact JSON, a uuid4 id, an ISO timestamp, an object data, sent as text. */
function expectEnvelope(c: TestClient, i: number): void {
  const raw = c.raw[i]!
  const f = JSON.parse(raw) as Record<string, unknown>
  expect(Object.keys(f), raw).toEqual(KEYS)
  expect(raw, 'compact').toBe(JSON.stringify(f))
  expect(f.id).toMatch(UUID4)
  expect(f.timestamp).toMatch(ISO)
  expect(typeof f.data === 'object' && f.data !== null && !Array.isArray(f.data)).toBe(true)
  expect(c.binary[i], `frame ${i} is a text frame`).toBe(false)
}

describe('envelope (docs/protocol.md A.1, A.2, A.4)', () => {
  let s: Started
  afterEach(async () => s?.server.close())

  it('welcomes every connection with session.created carrying connection id, server and message', async () => {
    s = await startService('workflow')
    const c = new TestClient(s.url)
    const welcome = await c.next()
    expect(welcome).toMatchObject({ type: 'event', event: 'session.created', correlation_id: null, room: null, error_code: null, error_message: null })
    expect(welcome.data).toEqual({
      connection_id: expect.stringMatching(UUID4),
      server: 'workflow',
      message: 'Connected to Mahavishnu orchestration',
      authenticated: false,
      secure: false,
      rate_limit: 100,
    })
    expect(s.server.getConnection(welcome.data!.connection_id as string)).toBeDefined()
    expectEnvelope(c, 0)
    await c.close()
  })

  it('accepts the upgrade on / as well as /ws', async () => {
    s = await startService('session')
    const c = await TestClient.connect(`ws://127.0.0.1:${s.port}/`)
    await c.alive()
    await c.close()
  })

  it('sends welcome, response, error, pong and broadcast event frames with the nine keys in order, compact, as text', async () => {
    s = await startService('workflow', { allow_client_publish: true })
    const c = new TestClient(s.url)
    await c.next((f) => f.event === 'session.created')
    await c.subscribe('workflow:w1')
    await c.request('nope')
    await c.alive()
    await c.request('publish', { channel: 'workflow:w1', event: 'workflow.started', data: { workflow_id: 'w1' } })
    await c.next((f) => f.type === 'event' && f.event === 'workflow.started')
    const types = c.raw.map((r) => (JSON.parse(r) as { type: string }).type)
    expect(new Set(types)).toEqual(new Set(['event', 'response', 'error', 'pong']))
    c.raw.forEach((_, i) => expectEnvelope(c, i))
    await c.close()
  })

  it('answers a JSON frame sent as binary like a text frame', async () => {
    s = await startService('workflow')
    const c = await TestClient.connect(s.url)
    c.ws.send(Buffer.from(JSON.stringify({ type: 'ping', correlation_id: 'bin' })), { binary: true })
    expect((await c.next()).type).toBe('pong')
    await c.close()
  })

  it('ignores unknown extra keys on input', async () => {
    s = await startService('workflow')
    const c = await TestClient.connect(s.url)
    c.send({ type: 'request', event: 'subscribe', data: { channel: 'global' }, correlation_id: 'x', extra: [1, 2], version: 3 })
    expect(await c.next()).toMatchObject({ type: 'response', correlation_id: 'x', data: { status: 'subscribed', channel: 'global' } })
    await c.close()
  })

  const nest = (depth: number) => '{"type":"request","event":"get_status","data":' + '{"a":'.repeat(depth - 2) + '{}' + '}'.repeat(depth - 2) + '}'

  const bad: [string, string, RegExp][] = [
    ['not JSON', 'hello', /not valid JSON/],
    ['truncated JSON', '{"type":"ping"', /not valid JSON/],
    ['an array', '[{"type":"ping"}]', /must be a JSON object/],
    ['a number', '42', /must be a JSON object/],
    ['a string', '"ping"', /must be a JSON object/],
    ['null', 'null', /must be a JSON object/],
    ['no type', '{"event":"subscribe"}', /message type/],
    ['an unknown type', '{"type":"hello"}', /message type: "hello"/],
    ['an upper-case type', '{"type":"PING"}', /message type: "PING"/],
    ['a non-string type', '{"type":7}', /message type: 7/],
    ['data an array', '{"type":"request","event":"get_status","data":[]}', /'data' must be an object/],
    ['data a string', '{"type":"request","event":"get_status","data":"x"}', /'data' must be an object/],
    ['data null', '{"type":"request","event":"get_status","data":null}', /'data' must be an object/],
    ['id null', '{"type":"ping","id":null}', /'id' must be a string/],
    ['id a number', '{"type":"ping","id":5}', /'id' must be a string/],
    ['timestamp null', '{"type":"ping","timestamp":null}', /'timestamp' must be a string/],
    ['event null', '{"type":"request","event":null}', /'event' must be a string/],
    ['event a number', '{"type":"request","event":1}', /'event' must be a string/],
    ['correlation_id a number', '{"type":"ping","correlation_id":1}', /'correlation_id' must be a string or null/],
    ['65 levels of nesting', nest(65), /nested deeper than 64 levels/],
    ['100,000 levels of nesting', nest(100_000), /nested deeper than 64 levels/],
    ['100,000 nested arrays', '['.repeat(100_000) + ']'.repeat(100_000), /nested deeper than 64 levels/],
  ]

  it.each(bad)('answers a frame that is %s with DECODE_ERROR and keeps the connection open', async (_what, frame, message) => {
    // Some of these frames are hundreds of KB: at the default byte_rate_limit the ping after one would wait seconds.
    s = await startService('workflow', { byte_rate_limit: 10_000_000 })
    const c = await TestClient.connect(s.url)
    const err = await c.errorFor(frame)
    expect(err).toMatchObject({ type: 'error', error_code: 'DECODE_ERROR', correlation_id: null, event: null })
    expect(err.error_message).toMatch(message)
    await c.alive()
    expect(s.server.stats.errorsByCode.get('DECODE_ERROR')).toBe(1)
    await c.close()
  })

  it('accepts 64 levels of nesting', async () => {
    s = await startService('workflow')
    const c = await TestClient.connect(s.url)
    c.send(nest(64))
    expect((await c.next()).type).toBe('response')
    await c.close()
  })

  it('answers invalid UTF-8 in a binary frame with DECODE_ERROR', async () => {
    s = await startService('workflow')
    const c = await TestClient.connect(s.url)
    c.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: true })
    expect((await c.next()).error_code).toBe('DECODE_ERROR')
    await c.alive()
    await c.close()
  })

  it('answers {"type":"ping"} with a pong correlated to its correlation_id, else its id, else null', async () => {
    s = await startService('workflow')
    const c = await TestClient.connect(s.url)
    c.send({ type: 'ping', correlation_id: 'c1', id: 'i1' })
    expect(await c.next()).toMatchObject({ type: 'pong', correlation_id: 'c1', event: null, data: {} })
    c.send({ type: 'ping', id: 'i2' })
    expect(await c.next()).toMatchObject({ type: 'pong', correlation_id: 'i2' })
    c.send({ type: 'ping' })
    const pong = await c.next()
    expect(pong).toMatchObject({ type: 'pong', correlation_id: null })
    await c.close()
  })

  it('answers protocol-level WebSocket pings with pongs', async () => {
    s = await startService('workflow')
    const c = await TestClient.connect(s.url)
    const pong = new Promise<Buffer>((resolve) => c.ws.once('pong', resolve))
    c.ws.ping('hello')
    expect((await pong).toString()).toBe('hello')
    await c.close()
  })

  it('ignores ack, response, error and pong frames from clients', async () => {
    s = await startService('workflow')
    const c = await TestClient.connect(s.url)
    for (const type of ['ack', 'response', 'error', 'pong']) c.send({ type, data: {} })
    c.send({ type: 'ping', correlation_id: 'after' })
    expect(await c.next()).toMatchObject({ type: 'pong', correlation_id: 'after' })
    await c.close()
  })
})
