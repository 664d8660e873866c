/**
 * Nesting limits for JSON from clients. Deeply nested input costs recursion in every later
 * step (schema checks, re-serialisation for broadcast), so it is refused at the edge.
 */

/** Deepest nesting of objects and arrays accepted in a frame or a payload (the frame itself is level 1). */
export const MAX_JSON_DEPTH = 64

/** Deepest nesting accepted in an event's data given over HTTP or in process: the frame that will carry it is one more level. */
export const MAX_DATA_DEPTH = MAX_JSON_DEPTH - 1

const OPEN_OBJ = 0x7b
const OPEN_ARR = 0x5b
const CLOSE_OBJ = 0x7d
const CLOSE_ARR = 0x5d
const QUOTE = 0x22
const BACKSLASH = 0x5c

/** Whether JSON text nests objects/arrays deeper than `max`; one pass over the text, brackets inside strings skipped. */
export function textTooDeep(text: string, max = MAX_JSON_DEPTH): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === BACKSLASH) i++
      else if (c === QUOTE) inString = false
    } else if (c === QUOTE) inString = true
    else if (c === OPEN_OBJ || c === OPEN_ARR) {
      if (++depth > max) return true
    } else if (c === CLOSE_OBJ || c === CLOSE_ARR) depth--
  }
  return false
}

/** Whether a parsed value nests objects/arrays deeper than `max` (iterative: no recursion on hostile input). */
export function valueTooDeep(value: unknown, max = MAX_JSON_DEPTH): boolean {
  const stack: [unknown, number][] = [[value, 1]]
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!
    if (typeof v !== 'object' || v === null) continue
    if (depth > max) return true
    for (const child of Object.values(v)) if (typeof child === 'object' && child !== null) stack.push([child, depth + 1])
  }
  return false
}
