import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { decodeEnvelopeServerFrame, decodeFlatServerFrame, ENVELOPE_TYPES, envelopeServerCodec, flatServerCodec, type RawFrame } from '../../src/protocol/index.js'
import { anyString, hostileKey, jsonObject, jsonValue, RUNS } from './arbitraries.js'

/**
 * Arbitrary bytes, text and JSON fed to the decoders: each returns a message of its documented
 * kinds (`invalid` with a reason for what it cannot read), never throws, never touches a prototype,
 * and hands on only plain objects and arrays.
 */

const INBOUND_KINDS = new Set(['request', 'ping', 'ack', 'ignored', 'invalid'])
const SERVER_MESSAGE_KINDS = new Set(['welcome', 'event', 'response', 'error', 'pong', 'ping', 'invalid'])
const FLAT_TYPES = ['subscribe', 'unsubscribe', 'publish', 'auth', 'ping', 'pong', 'ack']

/** Payloads that pollute Object.prototype when merged or assigned key by key. */
const POISON = [
  '{"__proto__":{"polluted":"yes"}}',
  '{"constructor":{"prototype":{"polluted":"yes"}}}',
  '{"__proto__":{"__proto__":{"polluted":"yes"}},"prototype":{"polluted":"yes"}}',
  '[{"__proto__":{"polluted":"yes"}}]',
]
const poison = fc.constantFrom(...POISON).map((text) => JSON.parse(text) as unknown)

/** A JSON object shaped like a frame: a real type most of the time, poison at any depth. */
function frameOf(types: readonly string[]) {
  const value = fc.oneof(jsonValue, poison, fc.array(fc.oneof(anyString, poison), { maxLength: 3 }))
  return fc
    .tuple(fc.option(fc.constantFrom(...types), { freq: 4, nil: undefined }), fc.dictionary(hostileKey, value, { maxKeys: 6, noNullPrototype: true }), fc.option(poison, { nil: undefined }))
    .map(([type, fields, data]) => {
      const frame: Record<string, unknown> = { ...fields }
      if (type !== undefined) frame.type = type
      if (data !== undefined) frame.data = data
      return JSON.stringify(frame)
    })
}

const limits = fc.option(fc.record({ maxDepth: fc.integer({ min: 1, max: 70 }), maxKeys: fc.integer({ min: 1, max: 3000 }), maxElements: fc.integer({ min: 1, max: 200 }) }), { nil: undefined })
const utf8 = new TextEncoder()
// The text the bytes spell, a leading byte-order mark included (it is U+FEFF, which JSON.parse refuses).
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Every object reachable from a decoded message is a plain object or an array, none with own prototype keys on its prototype. */
function expectPlain(value: unknown, path = 'message'): void {
  if (typeof value !== 'object' || value === null) return
  const proto = Object.getPrototypeOf(value) as unknown
  expect(proto === Object.prototype || proto === Array.prototype, `${path} has a foreign prototype`).toBe(true)
  for (const [k, v] of Object.entries(value)) expectPlain(v, `${path}.${k}`)
}

const objectKeys = Object.getOwnPropertyNames(Object.prototype).sort()
const arrayKeys = Object.getOwnPropertyNames(Array.prototype).sort()
function expectNoPollution(): void {
  expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  expect(([] as unknown as Record<string, unknown>).polluted).toBeUndefined()
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(objectKeys)
  expect(Object.getOwnPropertyNames(Array.prototype).sort()).toEqual(arrayKeys)
}
afterEach(expectNoPollution)

describe.each([
  ['envelope', envelopeServerCodec.decode, [...ENVELOPE_TYPES]],
  ['flat', flatServerCodec.decode, FLAT_TYPES],
] as const)('the %s server decoder on hostile input', (_name, decode, types) => {
  const check = (raw: RawFrame, lim?: Parameters<typeof decode>[1]) => {
    let out: ReturnType<typeof decode> | undefined
    expect(() => (out = decode(raw, lim))).not.toThrow()
    expect(INBOUND_KINDS.has(out!.kind)).toBe(true)
    if (out!.kind === 'invalid') expect(typeof out!.message).toBe('string')
    if (out!.kind === 'request') {
      expect(out!.op === null || typeof out!.op === 'string').toBe(true)
      expect(typeof out!.data === 'object' && out!.data !== null && !Array.isArray(out!.data)).toBe(true)
    }
    if (out!.kind === 'ack') expect(Array.isArray(out!.messageIds)).toBe(true)
    if (out!.kind !== 'invalid' && out!.kind !== 'ignored') expect(out!.correlationId === null || typeof out!.correlationId === 'string').toBe(true)
    expectPlain(out)
    expectNoPollution()
    return out!
  }

  it(`arbitrary bytes: a message, never a throw; the bytes read as their text would (${RUNS} cases)`, () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), limits, (bytes, lim) => {
        const fromBytes = check(bytes, lim)
        let text: string | null = null
        try {
          text = strictUtf8.decode(bytes)
        } catch {
          expect(fromBytes.kind).toBe('invalid')
        }
        if (text !== null) expect(fromBytes).toEqual(check(text, lim))
      }),
      { numRuns: RUNS },
    )
  })

  it('regression: a frame behind a UTF-8 byte-order mark is refused as bytes as it is as text', () => {
    const frame = '\uFEFF{"type":"ping","id":"p1"}'
    expect(check(frame)).toMatchObject({ kind: 'invalid' })
    expect(check(utf8.encode(frame))).toEqual(check(frame))
  })

  it(`arbitrary text and arbitrary JSON values (${RUNS} cases each)`, () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), limits, (text, lim) => void check(text, lim)), { numRuns: RUNS })
    fc.assert(fc.property(jsonValue, limits, (value, lim) => void check(JSON.stringify(value), lim)), { numRuns: RUNS })
  })

  it(`frame-shaped JSON with __proto__, constructor and prototype keys at any depth, as text and as bytes (${RUNS} cases)`, () => {
    fc.assert(
      fc.property(frameOf(types), limits, (text, lim) => {
        expect(check(utf8.encode(text), lim)).toEqual(check(text, lim))
      }),
      { numRuns: RUNS },
    )
  })

  it(`compact-ack look-alikes: the bytes between an ack's prefix and suffix read as the general path reads them (${RUNS} cases)`, () => {
    const heads = _name === 'envelope' ? ['{"type":"ack","data":{"message_id":"', '{"type":"ack","data":{"message_ids":["'] : ['{"type":"ack","message_id":"', '{"type":"ack","message_ids":["']
    const tails = _name === 'envelope' ? ['"}}', '"]}}'] : ['"}', '"]}']
    const middle = fc.oneof(fc.string({ unit: fc.constantFrom('a', '"', ',', '\\', ']', '}', ' ', 'é', '\u0000', '\u007f'), maxLength: 12 }), anyString)
    fc.assert(
      fc.property(fc.constantFrom(...heads), middle, fc.constantFrom(...tails), limits, (head, mid, tail, lim) => {
        const text = head + mid + tail
        expect(check(utf8.encode(text), lim)).toEqual(check(text, lim))
      }),
      { numRuns: RUNS },
    )
  })
})

describe.each([
  ['envelope', decodeEnvelopeServerFrame],
  ['flat', decodeFlatServerFrame],
] as const)('the %s client decoder on hostile input', (_name, decode) => {
  it(`arbitrary bytes, text and JSON objects: a message, never a throw (${RUNS} cases each)`, () => {
    const check = (raw: RawFrame) => {
      const out = decode(raw)
      expect(SERVER_MESSAGE_KINDS.has(out.kind)).toBe(true)
      expectPlain(out)
      expectNoPollution()
    }
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), check), { numRuns: RUNS })
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), check), { numRuns: RUNS })
    fc.assert(fc.property(frameOf(['event', 'response', 'error', 'pong', 'ping', 'connected', 'ack']), check), { numRuns: RUNS })
    fc.assert(fc.property(jsonObject, (o) => check(JSON.stringify(o))), { numRuns: RUNS })
  })
})
