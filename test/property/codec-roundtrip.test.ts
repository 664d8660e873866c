import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type JsonObject } from '../../src/index.js'
import { envelopeClientCodec, envelopeServerCodec } from '../../src/protocol/envelope/index.js'
import { flatClientCodec, flatServerCodec } from '../../src/protocol/flat/index.js'
import { type RawFrame } from '../../src/protocol/messages.js'
import { anyString, isoTime, jsonObject, position, RUNS } from './arbitraries.js'

/**
 * decode(encode(x)) = x for both dialects and both directions, for arbitrary valid messages.
 * Where a dialect's wire form changes a value on purpose (flat: times in ms since the epoch, a
 * result's `id` sent as `message_id`), the expected value says so.
 */

const utf8 = (text: string): RawFrame => new TextEncoder().encode(text)
const run = <T>(property: fc.IProperty<T>) => fc.assert(property, { numRuns: RUNS })

const publication = fc.record(
  { id: anyString, channel: anyString, event: anyString, data: jsonObject, timestamp: isoTime, position },
  { requiredKeys: ['id', 'channel', 'event', 'data', 'timestamp'] },
)
const direct = fc.record({ id: anyString, connectionId: anyString, event: anyString, data: jsonObject, timestamp: isoTime })
const correlationId = fc.option(anyString, { nil: null })
const welcome = fc.record({ connectionId: anyString, server: anyString, message: anyString, authenticated: fc.boolean(), secure: fc.boolean(), rateLimit: fc.nat() })
const ids = fc.array(anyString, { minLength: 1, maxLength: 6 })

describe(`envelope, server → client: decode(encode(x)) = x (${RUNS} cases per frame kind)`, () => {
  const server = envelopeServerCodec
  const client = envelopeClientCodec
  it(`events, direct messages and the welcome (${RUNS} cases each)`, () => {
    run(
      fc.property(publication, (pub) => {
        expect(client.decode(server.encodeEvent(pub))).toEqual({ kind: 'event', id: pub.id, channel: pub.channel, event: pub.event, data: pub.data, timestamp: pub.timestamp, position: pub.position ?? null })
      }),
    )
    run(
      fc.property(direct, (msg) => {
        expect(client.decode(server.encodeDirect(msg))).toEqual({ kind: 'event', id: msg.id, channel: null, event: msg.event, data: msg.data, timestamp: msg.timestamp, position: null })
      }),
    )
    run(
      fc.property(welcome, (info) => {
        const data = { connection_id: info.connectionId, server: info.server, message: info.message, authenticated: info.authenticated, secure: info.secure, rate_limit: info.rateLimit }
        expect(client.decode(server.encodeWelcome(info))).toEqual({ kind: 'welcome', connectionId: info.connectionId, data })
      }),
    )
  })

  it(`responses, errors, pongs and pings (${RUNS} cases each)`, () => {
    run(
      fc.property(anyString, jsonObject, correlationId, (op, data, cid) => {
        expect(client.decode(server.encodeResponse(op, data, { correlationId: cid }))).toEqual({ kind: 'response', op, data, correlationId: cid })
      }),
    )
    run(
      fc.property(anyString, anyString, fc.option(correlationId, { nil: undefined }), (code, message, cid) => {
        const reply = cid === undefined ? null : { correlationId: cid }
        expect(client.decode(server.encodeError(code, message, reply))).toEqual({ kind: 'error', code, message, correlationId: cid ?? null })
      }),
    )
    run(
      fc.property(correlationId, (cid) => {
        expect(client.decode(server.encodePong({ correlationId: cid }))).toEqual({ kind: 'pong', correlationId: cid })
      }),
    )
    expect(client.decode(server.encodePing())).toEqual({ kind: 'ping' })
  })

  it('regression: an event id or time holding a quote, a backslash or a control character still makes a JSON frame', () => {
    const pub = { id: 'a"b\\c\u0000', channel: 'c', event: 'e', data: {}, timestamp: '"\\' }
    expect(client.decode(server.encodeEvent(pub))).toMatchObject({ kind: 'event', id: pub.id, timestamp: pub.timestamp })
    expect(client.decode(server.encodeDirect({ ...pub, connectionId: 'x' }))).toMatchObject({ kind: 'event', id: pub.id, timestamp: pub.timestamp })
  })
})

describe(`flat, server → client: decode(encode(x)) = x (${RUNS} cases per frame kind)`, () => {
  const server = flatServerCodec
  const client = flatClientCodec
  // Keys an ack frame keeps for itself; a result's `status` is not sent and its `id` goes as `message_id`.
  const reserved = new Set(['type', 'id', 'success', 'code', 'error', 'timestamp', 'status', 'message_id'])
  const result = fc.tuple(jsonObject, fc.option(anyString, { nil: undefined })).map(([fields, id]) => {
    const data: JsonObject = {}
    for (const [k, v] of Object.entries(fields)) if (!reserved.has(k)) Object.defineProperty(data, k, { value: v, enumerable: true, writable: true, configurable: true })
    return { data, id }
  })

  it(`events and direct messages, times in ms since the epoch (${RUNS} cases each)`, () => {
    run(
      fc.property(publication, (pub) => {
        const timestamp = Date.parse(pub.timestamp)
        expect(client.decode(server.encodeEvent(pub))).toEqual({ kind: 'event', id: pub.id, channel: pub.channel, event: pub.event, data: pub.data, timestamp, position: pub.position ?? null })
      }),
    )
    run(
      fc.property(direct, (msg) => {
        expect(client.decode(server.encodeDirect(msg))).toEqual({ kind: 'event', id: msg.id, channel: null, event: msg.event, data: msg.data, timestamp: Date.parse(msg.timestamp), position: null })
      }),
    )
    run(
      fc.property(welcome, (info) => {
        expect(client.decode(server.encodeWelcome(info))).toMatchObject({ kind: 'welcome', connectionId: info.connectionId, data: { type: 'connected', client_id: info.connectionId } })
      }),
    )
  })

  it(`acks with and without success, the id echoed (${RUNS} cases each)`, () => {
    run(
      fc.property(anyString, result, correlationId, (op, { data, id }, cid) => {
        const sent = id === undefined ? data : { ...data, id }
        const fields = id === undefined ? data : { ...data, message_id: id }
        expect(client.decode(server.encodeResponse(op, sent, { correlationId: cid }))).toEqual({ kind: 'response', op: null, data: fields, correlationId: cid })
      }),
    )
    run(
      fc.property(anyString, anyString, fc.option(correlationId, { nil: undefined }), (code, message, cid) => {
        const reply = cid === undefined ? null : { correlationId: cid }
        expect(client.decode(server.encodeError(code, message, reply))).toEqual({ kind: 'error', code, message, correlationId: cid ?? null })
      }),
    )
    run(
      fc.property(correlationId, (cid) => {
        expect(client.decode(server.encodePong({ correlationId: cid }))).toEqual({ kind: 'pong', correlationId: null })
      }),
    )
    expect(client.decode(server.encodePing())).toEqual({ kind: 'ping' })
  })
})

describe.each([
  ['envelope', envelopeClientCodec, envelopeServerCodec, {}],
  ['flat', flatClientCodec, flatServerCodec, { timestamp: expect.any(Number) as unknown }],
] as const)(`%s, client → server: decode(encode(x)) = x, as text and as bytes (${RUNS} cases per frame kind)`, (name, client, server, echoed) => {
  /** Decodes a frame both ways the socket may hand it over: they must agree. */
  const decode = (frame: string) => {
    const fromText = server.decode(frame)
    expect(server.decode(utf8(frame))).toEqual(fromText)
    return fromText
  }

  it(`subscribe (with and without since), unsubscribe, publish (${RUNS} cases each)`, () => {
    run(
      fc.property(anyString, anyString, fc.option(position, { nil: undefined }), (channel, id, since) => {
        const data = since === undefined ? { channel } : { channel, since }
        expect(decode(client.encodeSubscribe(channel, id, since))).toEqual({ kind: 'request', op: 'subscribe', data, correlationId: id, ...echoed })
        expect(decode(client.encodeUnsubscribe(channel, id))).toEqual({ kind: 'request', op: 'unsubscribe', data: { channel }, correlationId: id, ...echoed })
      }),
    )
    run(
      fc.property(anyString, anyString, jsonObject, anyString, (channel, event, data, id) => {
        expect(decode(client.encodePublish(channel, event, data, id))).toEqual({ kind: 'request', op: 'publish', data: { channel, event, data }, correlationId: id, ...echoed })
      }),
    )
  })

  it(`auth, other requests, pings (${RUNS} cases each)`, () => {
    // The flat dialect's auth carries these three fields; the envelope's any credentials object.
    const credentials = name === 'flat' ? fc.record({ agent_id: anyString, session_id: anyString, token: anyString }, { requiredKeys: [] }) : jsonObject
    run(
      fc.property(credentials, anyString, (creds, id) => {
        expect(decode(client.encodeAuth(creds, id))).toEqual({ kind: 'request', op: 'auth', data: creds, correlationId: id, ...echoed })
      }),
    )
    if (name === 'envelope') {
      run(
        fc.property(anyString, jsonObject, anyString, (op, data, id) => {
          expect(decode(client.encodeRequest(op, data, id))).toEqual({ kind: 'request', op, data, correlationId: id })
        }),
      )
    }
    run(
      fc.property(anyString, (id) => {
        expect(decode(client.encodePing(id))).toEqual({ kind: 'ping', correlationId: id, ...echoed })
      }),
    )
    expect(decode(client.encodePong())).toEqual({ kind: 'ignored' })
  })

  it(`acks of one id and of several (message_ids), compact or not (${RUNS} cases)`, () => {
    run(
      fc.property(ids, (messageIds) => {
        expect(decode(client.encodeAck(messageIds))).toEqual({ kind: 'ack', messageIds, correlationId: null })
      }),
    )
  })
})
