import fc from 'fast-check'
import type { JsonObject } from '../../src/index.js'

/**
 * Generators shared by the property tests: JSON whose keys include the ones that reach
 * prototypes, strings of any UTF-16 code units (lone surrogates too), positions and dates.
 */

/** Keys that name prototype machinery, mixed with the frame keys both dialects read and any string. */
export const hostileKey = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf') },
  { weight: 1, arbitrary: fc.constantFrom('type', 'id', 'correlation_id', 'event', 'data', 'channel', 'timestamp', 'message_id', 'message_ids', 'since') },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
)

/** Any string: UTF-16 code units, lone surrogates and control characters included. */
export const anyString = fc.string({ unit: 'binary', maxLength: 24 })

/** A JSON number as JSON.parse gives it back (no -0: JSON has none). */
const jsonNumber = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => (Object.is(n, -0) ? 0 : n)))

const json = fc.letrec<{ value: unknown; array: unknown[]; object: JsonObject }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', maxDepth: 5 }, fc.constant(null), fc.boolean(), jsonNumber, anyString, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.dictionary(hostileKey, tie('value'), { maxKeys: 5, noNullPrototype: true }),
}))

/** Any JSON value (objects with own `__proto__`, `constructor`… keys included). */
export const jsonValue = json.value
/** Any JSON object. */
export const jsonObject = json.object

/** An ISO-8601 time as the server stamps events with. */
export const isoTime = fc.date({ min: new Date(0), max: new Date(Date.UTC(9999, 11, 31)), noInvalidDate: true }).map((d) => d.toISOString())

/** Where a publication sits in a history stream. */
export const position = fc.record({ offset: fc.nat(), epoch: anyString })

/** How many cases each property runs: a few seconds in all on a busy 2-core machine. */
export const RUNS = 300
