/**
 * How much work a JSON text will be, read before JSON.parse. Parsing cost grows with the number
 * of object keys far more than with bytes (a 1 MiB frame of 100,000 keys in small objects costs
 * ~100× a 1 MiB string), so a frame's keys and array elements are counted in one pass that
 * jumps over strings and stops at the first limit passed. Browser-safe.
 */

/** Limits on one JSON text; the counts cover every level. */
export interface JsonShapeLimits {
  /** Deepest nesting of objects and arrays (the outer value is level 1). */
  readonly maxDepth: number
  /** Most object keys. */
  readonly maxKeys: number
  /** Most array elements. */
  readonly maxElements: number
}

/** Which limit a text passes, or null when it passes none (or is not JSON: JSON.parse will say so). */
export type JsonShapeProblem = 'depth' | 'keys' | 'elements' | null

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COLON = 0x3a
const COMMA = 0x2c
const OPEN_OBJ = 0x7b
const OPEN_ARR = 0x5b
const CLOSE_OBJ = 0x7d
const CLOSE_ARR = 0x5d

/** Index of the quote closing the string whose opening quote is at `open`, or -1. */
function stringEnd(text: string, open: number): number {
  let q = text.indexOf('"', open + 1)
  while (q !== -1) {
    let slashes = 0
    for (let k = q - 1; text.charCodeAt(k) === BACKSLASH; k--) slashes++
    if (slashes % 2 === 0) return q
    q = text.indexOf('"', q + 1)
  }
  return -1
}

/**
 * Counts depth, keys and array elements of a JSON text; says which limit it passes first.
 * Strings are skipped with indexOf, so the pass costs little on large strings; a key is a
 * colon outside strings, an element a value inside an array (commas there, plus the first).
 */
export function jsonShapeProblem(text: string, limits: JsonShapeLimits): JsonShapeProblem {
  // Whether each open container is an array; bounded by maxDepth, so the stack is too.
  const inArray: boolean[] = []
  let keys = 0
  let elements = 0
  // Whether the innermost array has seen its first element yet.
  let arrayEmpty = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      if (arrayEmpty) {
        arrayEmpty = false
        if (++elements > limits.maxElements) return 'elements'
      }
      const end = stringEnd(text, i)
      if (end === -1) return null
      i = end
    } else if (c === COLON) {
      if (++keys > limits.maxKeys) return 'keys'
    } else if (c === COMMA) {
      if (inArray[inArray.length - 1] === true && ++elements > limits.maxElements) return 'elements'
    } else if (c === OPEN_OBJ || c === OPEN_ARR) {
      // A container as the first element of an array counts as that element.
      if (arrayEmpty && ++elements > limits.maxElements) return 'elements'
      if (inArray.length >= limits.maxDepth) return 'depth'
      inArray.push(c === OPEN_ARR)
      arrayEmpty = c === OPEN_ARR
    } else if (c === CLOSE_OBJ || c === CLOSE_ARR) {
      inArray.pop()
      arrayEmpty = false
    } else if (arrayEmpty && c > 0x20) {
      // The first element of an array that is a number, true, false or null.
      arrayEmpty = false
      if (++elements > limits.maxElements) return 'elements'
    }
  }
  return null
}
