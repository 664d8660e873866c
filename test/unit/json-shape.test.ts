import { describe, expect, it } from 'vitest'
import { jsonShapeProblem } from '../../src/protocol/json-shape.js'

const limits = { maxDepth: 4, maxKeys: 3, maxElements: 4 }

describe('jsonShapeProblem: depth, keys and array elements counted before JSON.parse', () => {
  it.each([
    ['{"a":1,"b":{"c":2}}', null],
    ['{"a":1,"b":{"c":2,"d":3}}', 'keys'],
    ['[1,2,3,4]', null],
    ['[1,2,3,4,5]', 'elements'],
    ['[[1,2],[3]]', 'elements'], // 2 outer + 3 inner
    ['[[],{}]', null],
    ['[ "a" , true , null ]', null],
    ['[[[[1]]]]', null],
    ['[[[[[1]]]]]', 'depth'],
    // Separators and brackets inside strings, escaped quotes included, are not counted.
    ['{"k":"a:b,c:d,[[[[[[{{{{","e":"\\"::,,\\\\","f":"x"}', null],
    ['{"k":"\\\\"}', null],
  ] as const)('%s → %s', (text, problem) => {
    expect(jsonShapeProblem(text, limits)).toBe(problem)
    expect(JSON.parse(text)).toBeDefined()
  })

  it('stops at the first limit passed, counting keys of every level', () => {
    const many = `{"d":[${Array.from({ length: 100 }, (_, i) => `{"k${i}":${i}}`).join(',')}]}`
    expect(jsonShapeProblem(many, { maxDepth: 64, maxKeys: 101, maxElements: 1000 })).toBeNull()
    expect(jsonShapeProblem(many, { maxDepth: 64, maxKeys: 100, maxElements: 1000 })).toBe('keys')
    expect(jsonShapeProblem(many, { maxDepth: 64, maxKeys: 1000, maxElements: 99 })).toBe('elements')
  })

  it('leaves text that is not JSON to JSON.parse', () => {
    expect(jsonShapeProblem('{"unterminated', limits)).toBeNull()
    expect(jsonShapeProblem('', limits)).toBeNull()
  })
})
