/**
 * Nesting limits for JSON from clients. Deeply nested input costs recursion in every later
 * step (schema checks, re-serialisation for broadcast), so it is refused at the edge.
 */

/** Deepest nesting of objects and arrays accepted in a frame or a payload (the frame itself is level 1). */
export const MAX_JSON_DEPTH = 64

/** Deepest nesting accepted in an event's data given over HTTP or in process: the frame that will carry it is one more level. */
export const MAX_DATA_DEPTH = MAX_JSON_DEPTH - 1

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
