import { once } from 'node:events'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type WebSocketServer } from '../../src/index.js'
import { CLOSE_CODES } from '../../src/protocol/codes.js'
import { envelopeClientCodec } from '../../src/protocol/envelope/index.js'
import { flatClientCodec } from '../../src/protocol/flat/index.js'
import { type ClientCodec } from '../../src/protocol/messages.js'
import { type Frame, TestClient } from '../helpers/client.js'
import { RawWsClient } from '../helpers/raw-ws.js'
import { type Started, startService } from '../helpers/server.js'
import { anyString, hostileKey, jsonObject, jsonValue } from './arbitraries.js'

/**
 * Sequences of arbitrary frames over one real connection: bytes (as text and binary frames),
 * text, JSON, frame-shaped JSON with prototype keys, and valid requests in between, sent without
 * waiting. Afterwards the connection still answers a ping and a subscribe, or was closed with a
 * documented close code; the server answered no SERVER_ERROR, forgets the connection and its
 * rooms once it closes, and serves a fresh client.
 */

const SEQUENCES = 50
const DOCUMENTED_CLOSES = new Set(Object.keys(CLOSE_CODES).map(Number))

interface Dialect {
  readonly name: string
  readonly service: string
  readonly codec: ClientCodec
  /** Channels of the service an anonymous connection may subscribe to. */
  readonly channels: readonly string[]
  /** Events it may publish there, with a payload its schema accepts. */
  readonly events: readonly [string, JsonObjectOf][]
  readonly types: readonly string[]
  /** The connection id a welcome frame names. */
  welcomeId(frame: Frame): string | null
  isPong(frame: Frame, id: string): boolean
  isAnswerTo(frame: Frame, id: string): boolean
  isServerError(frame: Frame): boolean
}
type JsonObjectOf = (id: string) => Record<string, unknown>

const ENVELOPE: Dialect = {
  name: 'envelope',
  service: 'workflow',
  codec: envelopeClientCodec,
  channels: ['workflow:w1', 'pool:p1', 'global', 'goal-teams'],
  events: [['workflow.started', (id) => ({ workflow_id: id })], ['pool.status_changed', (id) => ({ pool_id: id, status: 'up' })]],
  types: ['request', 'response', 'event', 'error', 'subscribe', 'unsubscribe', 'ping', 'pong', 'ack'],
  welcomeId: (f) => (f.event === 'session.created' && typeof f.data?.connection_id === 'string' ? f.data.connection_id : null),
  isPong: (f, id) => f.type === 'pong' && f.correlation_id === id,
  isAnswerTo: (f, id) => (f.type === 'response' || f.type === 'error') && f.correlation_id === id,
  isServerError: (f) => f.error_code === 'SERVER_ERROR',
}

const FLAT: Dialect = {
  name: 'flat',
  service: 'context',
  codec: flatClientCodec,
  channels: ['topics/t1', 'sessions/s1', 'metrics', 'global'],
  events: [['message.new', (id) => ({ message_id: id, content: 'hi' })], ['system.info', (id) => ({ message: id })]],
  types: ['subscribe', 'unsubscribe', 'publish', 'auth', 'ping', 'pong', 'ack'],
  welcomeId: (f) => (f.type === 'connected' && typeof f.client_id === 'string' ? f.client_id : null),
  isPong: (f) => f.type === 'pong',
  isAnswerTo: (f, id) => f.type === 'ack' && f.id === id,
  isServerError: (f) => f.code === 'SERVER_ERROR',
}

/** One frame of a sequence: what to send, as text or as bytes in a text or binary frame. */
type Step = { text: string } | { bytes: Uint8Array; binary: boolean }

function steps(d: Dialect): fc.Arbitrary<Step[]> {
  const channel = fc.oneof(fc.constantFrom(...d.channels), anyString)
  const id = fc.oneof(anyString, fc.uuid())
  const valid = fc.oneof(
    fc.tuple(channel, id).map(([c, i]) => d.codec.encodeSubscribe(c, i)),
    fc.tuple(channel, id).map(([c, i]) => d.codec.encodeUnsubscribe(c, i)),
    id.map((i) => d.codec.encodePing(i)),
    fc.constant(d.codec.encodePong()),
    fc.array(anyString, { minLength: 1, maxLength: 4 }).map((ids) => d.codec.encodeAck(ids)),
    fc.tuple(fc.constantFrom(...d.events), fc.constantFrom(...d.channels), jsonObject, id).map(([[event, payload], c, extra, i]) => d.codec.encodePublish(c, event, { ...extra, ...payload(i) }, i)),
    fc.tuple(fc.constantFrom(...d.channels), anyString, jsonObject, id).map(([c, event, data, i]) => d.codec.encodePublish(c, event, data, i)),
    fc.tuple(jsonObject, id).map(([creds, i]) => d.codec.encodeAuth(creds, i)),
    fc.tuple(anyString, jsonObject, id).map(([op, data, i]) => d.codec.encodeRequest(op, data, i)),
  )
  const poison = fc.constantFrom('{"__proto__":{"polluted":"yes"}}', '{"constructor":{"prototype":{"polluted":"yes"}}}').map((t) => JSON.parse(t) as unknown)
  const shaped = fc
    .tuple(fc.constantFrom(...d.types), fc.dictionary(hostileKey, fc.oneof(jsonValue, poison), { maxKeys: 5, noNullPrototype: true }))
    .map(([type, fields]) => JSON.stringify({ ...fields, type }))
  const step: fc.Arbitrary<Step> = fc.oneof(
    { weight: 4, arbitrary: valid.map((text) => ({ text })) },
    { weight: 2, arbitrary: shaped.map((text) => ({ text })) },
    { weight: 1, arbitrary: jsonValue.map((v) => ({ text: JSON.stringify(v) })) },
    { weight: 1, arbitrary: anyString.map((text) => ({ text })) },
    { weight: 1, arbitrary: fc.record({ bytes: fc.uint8Array({ maxLength: 64 }), binary: fc.boolean() }) },
  )
  return fc.array(step, { minLength: 1, maxLength: 20 })
}

describe.each([ENVELOPE, FLAT])('a live $name server under sequences of arbitrary frames', (d) => {
  let started: Started
  let server: WebSocketServer
  /** Connection ids the server has let go of, and who waits for which. */
  const gone = new Set<string>()
  const waiting = new Map<string, () => void>()

  beforeAll(async () => {
    // Rates high enough that every frame of a sequence is decoded rather than refused for speed;
    // frame limits low enough that the shape pre-check refuses some of them.
    started = await startService(d.service, { allow_client_publish: true, message_rate_limit: 100_000, byte_rate_limit: 100_000_000, max_frame_keys: 40, max_frame_elements: 40 })
    server = started.server
    server.onDisconnect((conn) => {
      gone.add(conn.id)
      waiting.get(conn.id)?.()
    })
  })
  afterAll(() => server.close())

  const disconnected = (id: string) => (gone.has(id) ? Promise.resolve() : new Promise<void>((resolve) => waiting.set(id, resolve)))

  /** Connects and returns the client with the id the server gave its connection. */
  async function connect(): Promise<{ client: TestClient; id: string }> {
    const client = new TestClient(started.url)
    await once(client.ws, 'open')
    const welcome = await client.next((f) => d.welcomeId(f) !== null)
    return { client, id: d.welcomeId(welcome)! }
  }

  /** The connection answers a ping and a subscribe to one of its channels. */
  async function serving(client: TestClient, n: number): Promise<void> {
    const pingId = `final-ping-${n}`
    client.ws.send(d.codec.encodePing(pingId))
    await client.next((f) => d.isPong(f, pingId))
    const subId = `final-sub-${n}`
    client.ws.send(d.codec.encodeSubscribe(d.channels[0]!, subId))
    const answer = await client.next((f) => d.isAnswerTo(f, subId))
    expect(answer.type === 'error' || answer.success === false, JSON.stringify(answer)).toBe(false)
  }

  it('regression: bytes that are not UTF-8 close a text frame\'s connection with 1007, a documented code; in a binary frame they are a DECODE_ERROR', async () => {
    const text = await connect()
    text.client.ws.send(Buffer.from([0x80]), { binary: false })
    expect((await text.client.closed).code).toBe(1007)
    expect(DOCUMENTED_CLOSES.has(1007)).toBe(true)
    await disconnected(text.id)
    const binary = await connect()
    binary.client.ws.send(Buffer.from([0x80]), { binary: true })
    await binary.client.next((f) => f.error_code === 'DECODE_ERROR' || f.code === 'DECODE_ERROR')
    await serving(binary.client, 0)
    await binary.client.close()
    await disconnected(binary.id)
  })

  it('regression: a frame that breaks RFC 6455 (unmasked) closes with 1002, a documented code', async () => {
    const raw = await RawWsClient.connect(started.port, new URL(started.url).pathname)
    raw.socket.write(Buffer.from([0x81, 0x02, 0x68, 0x69]))
    await raw.ended
    const close = raw.frames.find((f) => f.opcode === 8)
    expect(close?.payload.readUInt16BE(0)).toBe(1002)
    expect(DOCUMENTED_CLOSES.has(1002)).toBe(true)
  })

  it(`${SEQUENCES} sequences of up to 20 frames: serving or closed with a documented code, never a half state`, async () => {
    let n = 0
    let closedCount = 0
    await fc.assert(
      fc.asyncProperty(steps(d), async (sequence) => {
        n++
        const { client, id } = await connect()
        for (const step of sequence) {
          if (client.ws.readyState !== client.ws.OPEN) break
          if ('text' in step) client.ws.send(step.text)
          else client.ws.send(step.bytes, { binary: step.binary })
        }
        const outcome = await Promise.race([client.closed, serving(client, n).then(() => null)]).catch(async (err: unknown) => {
          // The connection closed while the checks waited: judge it by its close code below.
          if (client.ws.readyState === client.ws.OPEN) throw err
          return client.closed
        })
        if (outcome !== null) {
          closedCount++
          expect(DOCUMENTED_CLOSES.has(outcome.code), `closed with ${outcome.code} ${outcome.reason}`).toBe(true)
        }
        expect(client.raw.filter((t) => d.isServerError(JSON.parse(t) as Frame)), 'SERVER_ERROR answers').toEqual([])
        expect(server.stats.errorsByCode.get('SERVER_ERROR') ?? 0).toBe(0)
        expect(({} as Record<string, unknown>).polluted).toBeUndefined()

        await client.close()
        await disconnected(id)
        expect(server.getConnection(id)).toBeUndefined()
        // Nothing else is connected between sequences: no connection or room is left behind.
        expect(server.connectionCount).toBe(0)
        expect(server.roomCounts()).toEqual({})

        const fresh = await connect()
        await serving(fresh.client, n)
        await fresh.client.close()
        await disconnected(fresh.id)
      }),
      { numRuns: SEQUENCES },
    )
    expect(n).toBe(SEQUENCES)
    console.log(`${d.name}: ${SEQUENCES} sequences, ${closedCount} closed by the server with a documented code`)
  })
})
