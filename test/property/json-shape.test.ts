import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { valueTooDeep } from '../../src/protocol/json-depth.js'
import { jsonShapeProblem, type JsonShapeLimits } from '../../src/protocol/json-shape.js'
import { anyString, hostileKey, RUNS } from './arbitraries.js'

/**
 * The frame-shape pre-check reads a text before JSON.parse does; it must admit exactly the JSON
 * texts whose depth, object keys and array elements are within the limits (what it says of a text
 * that is not JSON does not matter: JSON.parse refuses it next).
 */

interface Shape {
  depth: number
  keys: number
  elements: number
}

/** Depth, keys and elements of a parsed value (every level; the outer container is level 1). */
function shapeOf(value: unknown): Shape {
  const shape = { depth: 0, keys: 0, elements: 0 }
  const walk = (v: unknown, level: number): void => {
    if (typeof v !== 'object' || v === null) return
    shape.depth = Math.max(shape.depth, level)
    const children = Object.values(v)
    if (Array.isArray(v)) shape.elements += v.length
    else shape.keys += children.length
    for (const c of children) walk(c, level + 1)
  }
  walk(value, 1)
  return shape
}

const within = (s: Shape, l: JsonShapeLimits) => s.depth <= l.maxDepth && s.keys <= l.maxKeys && s.elements <= l.maxElements
const passed = { depth: (s: Shape, l: JsonShapeLimits) => s.depth > l.maxDepth, keys: (s: Shape, l: JsonShapeLimits) => s.keys > l.maxKeys, elements: (s: Shape, l: JsonShapeLimits) => s.elements > l.maxElements }

function parses(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown }
  } catch {
    return { ok: false }
  }
}

/** JSON text of `value` with JSON whitespace from `ws` (taken in turn) around every token. */
function serialize(value: unknown, ws: readonly string[]): string {
  let i = 0
  const w = () => (ws.length === 0 ? '' : (ws[i++ % ws.length] as string))
  const out = (v: unknown): string => {
    if (Array.isArray(v)) return `[${w()}${v.map((e) => `${w()}${out(e)}${w()}`).join(',')}${w()}]`
    if (typeof v === 'object' && v !== null) {
      return `{${w()}${Object.entries(v).map(([k, e]) => `${w()}${JSON.stringify(k)}${w()}:${w()}${out(e)}${w()}`).join(',')}${w()}}`
    }
    return JSON.stringify(v)
  }
  return `${w()}${out(value)}${w()}`
}

// Strings full of the characters the pre-check looks for, so skipping strings is what is tested.
const trickyString = fc.oneof(anyString, fc.string({ unit: fc.constantFrom('"', '\\', ':', ',', '[', ']', '{', '}', 'a', ' '), maxLength: 10 }))
const deepJson = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'medium', maxDepth: 9 },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    trickyString,
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.oneof(hostileKey, trickyString), tie('value'), { maxKeys: 5, noNullPrototype: true }),
  ),
}))
const whitespace = fc.array(fc.constantFrom('', '', ' ', '\t', '\n', '\r', ' \n  '), { maxLength: 8 })
/** Limits anywhere, or right at the text's own shape (one under, equal, one over) where a miscount shows. */
const limits = fc.oneof(
  fc.record({ maxDepth: fc.integer({ min: 1, max: 10 }), maxKeys: fc.integer({ min: 1, max: 25 }), maxElements: fc.integer({ min: 1, max: 25 }) }),
  fc.tuple(fc.integer({ min: -1, max: 1 }), fc.integer({ min: -1, max: 1 }), fc.integer({ min: -1, max: 1 })),
)
type LimitsArb = JsonShapeLimits | [number, number, number]

/** The limits `l` names for a text of shape `s`. */
const limitsFor = (l: LimitsArb, text: string): JsonShapeLimits => {
  if (!Array.isArray(l)) return l
  const parsed = parses(text)
  const s = parsed.ok ? shapeOf(parsed.value) : { depth: 1, keys: 1, elements: 1 }
  return { maxDepth: Math.max(1, s.depth + l[0]), maxKeys: Math.max(1, s.keys + l[1]), maxElements: Math.max(1, s.elements + l[2]) }
}

/** The pre-check and JSON.parse agree on `text` under `l`. */
function expectAgreement(text: string, arb: LimitsArb): void {
  const l = limitsFor(arb, text)
  const problem = jsonShapeProblem(text, l)
  const parsed = parses(text)
  if (!parsed.ok) return
  const shape = shapeOf(parsed.value)
  expect(problem === null, `${text} with ${JSON.stringify(l)}: ${problem} for ${JSON.stringify(shape)}`).toBe(within(shape, l))
  if (problem !== null) expect(passed[problem](shape, l), `${text}: says ${problem}`).toBe(true)
}

describe('jsonShapeProblem agrees with JSON.parse on what it admits', () => {
  it(`JSON of any value, any JSON whitespace, any limits (${RUNS * 4} cases)`, () => {
    fc.assert(fc.property(deepJson.value, whitespace, limits, (value, ws, l) => expectAgreement(serialize(value, ws), l)), { numRuns: RUNS * 4 })
  })

  it(`JSON texts with a character deleted, doubled or inserted: those JSON.parse still reads (${RUNS * 4} cases)`, () => {
    const edit = fc.record({ at: fc.nat(), op: fc.constantFrom('delete', 'double', 'insert'), char: fc.constantFrom('"', '\\', ':', ',', '[', ']', '{', '}', ' ', '1') })
    fc.assert(
      fc.property(deepJson.value, whitespace, fc.array(edit, { minLength: 1, maxLength: 3 }), limits, (value, ws, edits, l) => {
        let text = serialize(value, ws)
        for (const { at, op, char } of edits) {
          const i = text.length === 0 ? 0 : at % text.length
          text = op === 'delete' ? text.slice(0, i) + text.slice(i + 1) : op === 'double' ? text.slice(0, i) + text.slice(i, i + 1) + text.slice(i) : text.slice(0, i) + char + text.slice(i)
        }
        expectAgreement(text, l)
      }),
      { numRuns: RUNS * 4 },
    )
  })

  it(`its depth limit agrees with valueTooDeep on parsed values (${RUNS * 4} cases)`, () => {
    fc.assert(
      fc.property(deepJson.value, fc.integer({ min: 1, max: 10 }), (value, max) => {
        const text = JSON.stringify(value)
        expect(jsonShapeProblem(text, { maxDepth: max, maxKeys: Infinity, maxElements: Infinity }) === 'depth').toBe(valueTooDeep(JSON.parse(text), max))
      }),
      { numRuns: RUNS * 4 },
    )
  })

  it('a key given twice is counted twice: the pre-check counts the work of parsing, not the keys that survive it', () => {
    expect(jsonShapeProblem('{"a":1,"a":2}', { maxDepth: 2, maxKeys: 1, maxElements: 1 })).toBe('keys')
  })
})
