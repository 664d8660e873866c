import { describe, expect, it } from 'vitest'
import { build } from 'esbuild'
import { envelopeFrame, isoNow } from '../../src/protocol/envelope/frame.js'
import { envelopeClientCodec, envelopeServerCodec } from '../../src/protocol/envelope/index.js'
import { flatClientCodec, flatServerCodec } from '../../src/protocol/flat/index.js'
import { type ClientCodec, type ServerCodec } from '../../src/protocol/messages.js'

const pub = { id: 'e1', channel: 'workflow:w1', event: 'workflow.started', data: { workflow_id: 'w1' }, timestamp: '2026-11-22T03:22:09.703Z' }
const dialects: [string, ClientCodec, ServerCodec][] = [
  ['envelope', envelopeClientCodec, envelopeServerCodec],
  ['flat', flatClientCodec, flatServerCodec],
]

describe.each(dialects)('the %s codecs, both directions', (_name, client, server) => {
  it('a client request decodes on the server to the operation, its parameters and the id to answer', () => {
    const since = { offset: 3, epoch: 'ep' }
    expect(server.decode(client.encodeSubscribe('workflow:w1', 'r1', since))).toMatchObject({ kind: 'request', op: 'subscribe', data: { channel: 'workflow:w1', since }, correlationId: 'r1' })
    expect(server.decode(client.encodeUnsubscribe('workflow:w1', 'r2'))).toMatchObject({ kind: 'request', op: 'unsubscribe', data: { channel: 'workflow:w1' }, correlationId: 'r2' })
    expect(server.decode(client.encodePublish('workflow:w1', 'workflow.started', { a: 1 }, 'r3'))).toMatchObject({ kind: 'request', op: 'publish', data: { channel: 'workflow:w1', event: 'workflow.started', data: { a: 1 } }, correlationId: 'r3' })
    expect(server.decode(client.encodeAuth({ token: 't' }, 'r4'))).toMatchObject({ kind: 'request', op: 'auth', data: { token: 't' }, correlationId: 'r4' })
    expect(server.decode(client.encodePing('p1'))).toMatchObject({ kind: 'ping' })
    expect(server.decode(client.encodeAck(['m1']))).toMatchObject({ kind: 'ack', messageIds: ['m1'] })
    expect(server.decode(client.encodeAck(['m1', 'm2']))).toMatchObject({ kind: 'ack', messageIds: ['m1', 'm2'] })
    expect(server.decode(new TextEncoder().encode(client.encodeAck(['m1', 'm2'])))).toEqual({ kind: 'ack', messageIds: ['m1', 'm2'], correlationId: null })
    expect(server.decode(new TextEncoder().encode(client.encodePing('p2')))).toMatchObject({ kind: 'ping' })
  })

  it('every server frame decodes on the client', () => {
    const reply = { correlationId: 'r1' }
    expect(client.decode(server.encodeWelcome({ connectionId: 'c1', server: 's', message: 'm', authenticated: false, secure: false, rateLimit: 100 }))).toMatchObject({ kind: 'welcome', connectionId: 'c1' })
    expect(client.decode(server.encodeEvent(pub))).toMatchObject({ kind: 'event', id: 'e1', channel: 'workflow:w1', event: 'workflow.started', data: { workflow_id: 'w1' }, position: null })
    expect(client.decode(server.encodeEvent({ ...pub, position: { offset: 7, epoch: 'x' } }))).toMatchObject({ kind: 'event', position: { offset: 7, epoch: 'x' } })
    expect(client.decode(server.encodeDirect({ ...pub, connectionId: 'c1' }))).toMatchObject({ kind: 'event', event: 'workflow.started', channel: null })
    expect(client.decode(server.encodeResponse('subscribe', { status: 'subscribed', channel: 'workflow:w1' }, reply))).toMatchObject({ kind: 'response', correlationId: 'r1', data: { channel: 'workflow:w1' } })
    expect(client.decode(server.encodeError('FORBIDDEN', 'no', reply))).toEqual({ kind: 'error', code: 'FORBIDDEN', message: 'no', correlationId: 'r1' })
    expect(client.decode(server.encodeError('DECODE_ERROR', 'bad', null))).toEqual({ kind: 'error', code: 'DECODE_ERROR', message: 'bad', correlationId: null })
    expect(client.decode(server.encodePong(reply))).toMatchObject({ kind: 'pong' })
    expect(client.decode(server.encodePing())).toEqual({ kind: 'ping' })
    expect(client.decode('nope')).toMatchObject({ kind: 'invalid' })
  })

  it('a bad frame decodes to invalid with a reason, never throws', () => {
    for (const raw of ['not json', '[]', '{"type":"launch"}', '{"type":1}', new Uint8Array([0xff, 0xfe]), '['.repeat(100)]) {
      expect(server.decode(raw)).toMatchObject({ kind: 'invalid', message: expect.any(String) })
    }
  })
})

describe.each([
  ['envelope', envelopeServerCodec, (id: string) => `{"type":"ack","data":{"message_id":"${id}"}}`, (ids: string) => `{"type":"ack","data":{"message_ids":[${ids}]}}`],
  ['flat', flatServerCodec, (id: string) => `{"type":"ack","message_id":"${id}"}`, (ids: string) => `{"type":"ack","message_ids":[${ids}]}`],
] as const)('the %s compact acks (read without parsing) decode as the general path does', (_name, server, one, list) => {
  const bytes = (text: string) => new TextEncoder().encode(text)
  // A frame given as a string always takes the general path: the answer to compare with.
  const both = (text: string, limits?: { maxDepth: number; maxKeys: number; maxElements: number }) => [server.decode(bytes(text), limits), server.decode(text, limits)]

  it('in their compact forms', () => {
    for (const id of ['msg_1', '2f0c1b7e-4f7a-4b8e-9a57-3f1f6b7f0a11', 'a b', "~!#$%&'()*+,-./:;<=>?@[]^_`{|}", 'x']) {
      const [fast, general] = both(one(id))
      expect(fast, id).toEqual({ kind: 'ack', messageIds: [id], correlationId: null })
      expect(fast, id).toEqual(general)
    }
    for (const ids of [['a'], ['a', 'b'], ['msg_1', 'x,y', '[', ']', ',', 'msg_4']]) {
      const text = list(ids.map((id) => JSON.stringify(id)).join(','))
      const [fast, general] = both(text)
      expect(fast, text).toEqual({ kind: 'ack', messageIds: ids, correlationId: null })
      expect(fast, text).toEqual(general)
    }
  })

  it('in every form the fast path leaves to the general one', () => {
    const frames = [
      one('é'), one('a\\"b'), one('a\\u0041'), one(''), one('a"b'), one('\\u0000'), one('a","b'),
      one('x').replace('"ack"', ' "ack"'), one('x') + ' ', one('x').slice(0, -1), one('x').replace('}', ',"id":"r1"}'),
      list(''), list('""'), list('"a",""'), list('"a" ,"b"'), list('"a","b",'), list('"a",1'), list('"a","é"'), list('"a"'.repeat(2)),
      list('"a","b"').replace('[', '[ '), list('"a\\"b"'),
      '{"type":"ack"', '{"type":"ack"}', '"}}', '',
    ]
    for (const text of frames) {
      const [fast, general] = both(text)
      expect(fast, text).toEqual(general)
    }
    const tiny = { maxDepth: 1, maxKeys: 1, maxElements: 10 }
    for (const text of [one('x'), list('"a","b"')]) {
      const [fast, general] = both(text, tiny)
      expect(fast, text).toEqual(general)
      expect(fast, text).toMatchObject({ kind: 'invalid' })
    }
    const twoElements = { maxDepth: 64, maxKeys: 100, maxElements: 2 }
    const [fast, general] = both(list('"a","b","c"'), twoElements)
    expect(fast).toEqual(general)
    expect(fast).toMatchObject({ kind: 'invalid' })
  })

  it('an ack naming no id, or a message_ids that is not an array, names one unknown id', () => {
    expect(server.decode(one('x').replace('"message_id":"x"', '"other":1'))).toMatchObject({ kind: 'ack', messageIds: [undefined] })
    expect(server.decode(list('').replace('[]', '"a"'))).toMatchObject({ kind: 'ack', messageIds: [undefined] })
    expect(server.decode(list(''))).toMatchObject({ kind: 'ack', messageIds: [undefined] })
  })
})

describe('stream positions go after the standard keys', () => {
  it('envelope: after the nine keys', () => {
    const keys = Object.keys(JSON.parse(envelopeServerCodec.encodeEvent({ ...pub, position: { offset: 2, epoch: 'e' } })) as object)
    expect(keys).toEqual(['id', 'correlation_id', 'type', 'event', 'data', 'timestamp', 'room', 'error_code', 'error_message', 'offset', 'epoch'])
  })

  it('flat: after type, id, channel, event, data, timestamp', () => {
    const frame = JSON.parse(flatServerCodec.encodeEvent({ ...pub, position: { offset: 2, epoch: 'e' } })) as object
    expect(Object.keys(frame)).toEqual(['type', 'id', 'channel', 'event', 'data', 'timestamp', 'offset', 'epoch'])
    expect(frame).toMatchObject({ timestamp: Date.parse(pub.timestamp) })
  })
})

describe('src/protocol is browser-safe', () => {
  it('bundles for the browser with no Node built-in', async () => {
    const entry = new URL('../../src/protocol/index.ts', import.meta.url).pathname
    const out = await build({ entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent' })
    expect(out.errors).toEqual([])
    expect(out.outputFiles[0]!.text).not.toMatch(/\bBuffer\b|node:/)
  })

  it('the client bundle leaves the server codecs out (tree-shaken)', async () => {
    const entry = new URL('../../src/client/index.ts', import.meta.url).pathname
    const out = await build({ entryPoints: [entry], bundle: true, minify: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent', external: ['ws'] })
    // The compact-ack forms the server reads, however the minifier quotes them, are in no client code.
    expect(/message_ids?\\?":\\?\[?\\?"/.test(out.outputFiles[0]!.text), 'a compact-ack form in the client bundle').toBe(false)
  })
})

describe('the envelope welcome (the connect path)', () => {
  it('is, byte for byte, the envelope frame of its data (written out by hand)', () => {
    const infos = [
      { connectionId: 'c1', server: 's', message: 'm', authenticated: false, secure: false, rateLimit: 100 },
      { connectionId: '0f6c3a52-9d3e-4c55-9a57-6b1f0e2d8c11', server: 'patterns', message: 'Welcome "home" \\ \u00e9\u2028', authenticated: true, secure: true, rateLimit: 0.5 },
      { connectionId: 'a"b\\c', server: 'two words', message: '', authenticated: false, secure: true, rateLimit: 100 },
    ]
    for (const info of infos) {
      const frame = envelopeServerCodec.encodeWelcome(info)
      const { id, timestamp } = JSON.parse(frame) as { id: string; timestamp: string }
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
      expect(new Date(timestamp).toISOString()).toBe(timestamp)
      const data = { connection_id: info.connectionId, server: info.server, message: info.message, authenticated: info.authenticated, secure: info.secure, rate_limit: info.rateLimit }
      expect(frame).toBe(envelopeFrame('event', null, 'session.created', JSON.stringify(data), null, null, null, id, timestamp))
    }
  })

  it('isoNow is the time of now as toISOString writes it', () => {
    const before = Date.now()
    const now = Date.parse(isoNow())
    expect(now).toBeGreaterThanOrEqual(before)
    expect(now).toBeLessThanOrEqual(Date.now())
    const t = isoNow()
    expect(new Date(Date.parse(t)).toISOString()).toBe(t)
  })
})
