import { MAX_JSON_DEPTH } from './json-depth.js'
import { type JsonShapeLimits, jsonShapeProblem } from './json-shape.js'
import type { JsonObject, RawFrame, StreamPosition } from './messages.js'

/** Small shared pieces of the codecs; browser-safe (global TextDecoder and crypto). */

// ignoreBOM keeps a leading byte-order mark in the text, so JSON.parse refuses the frame as bytes
// as it does as text (the decoder would otherwise drop it and admit what JSON.parse refuses).
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Only the nesting limit: what a frame from a server is held to. */
const DEPTH_ONLY: JsonShapeLimits = { maxDepth: MAX_JSON_DEPTH, maxKeys: Infinity, maxElements: Infinity }

const SHAPE_MESSAGES = {
  depth: (l: JsonShapeLimits) => `Frame is nested deeper than ${l.maxDepth} levels`,
  keys: (l: JsonShapeLimits) => `Frame has more than ${l.maxKeys} object keys (max_frame_keys)`,
  elements: (l: JsonShapeLimits) => `Frame has more than ${l.maxElements} array elements (max_frame_elements)`,
}

/**
 * Parses one frame into a JSON object, or says why it is not one. Never throws. The shape
 * limits are checked on the text first, so a frame over them is never parsed.
 */
export function parseFrame(raw: RawFrame, limits: JsonShapeLimits = DEPTH_ONLY): { ok: true; msg: JsonObject } | { ok: false; message: string } {
  let msg: unknown
  try {
    const text = typeof raw === 'string' ? raw : utf8.decode(raw)
    const problem = jsonShapeProblem(text, limits)
    if (problem !== null) return { ok: false, message: SHAPE_MESSAGES[problem](limits) }
    msg = JSON.parse(text)
  } catch {
    return { ok: false, message: 'Frame is not valid JSON' }
  }
  if (!isObject(msg)) return { ok: false, message: 'Frame must be a JSON object' }
  return { ok: true, msg }
}

/** JSON of a string or null, for hand-built frames. */
export function str(v: string | null): string {
  return v === null ? 'null' : JSON.stringify(v)
}

/** The extra keys a history publication carries after the standard ones (leading comma included). */
export function positionKeys(position: StreamPosition | undefined): string {
  return position === undefined ? '' : `,"offset":${position.offset},"epoch":${JSON.stringify(position.epoch)}`
}

/** Reads `offset`/`epoch` keys of a frame back into a position, or null. */
export function readPosition(msg: JsonObject): StreamPosition | null {
  return typeof msg.offset === 'number' && typeof msg.epoch === 'string' ? { offset: msg.offset, epoch: msg.epoch } : null
}

export function uuid(): string {
  return globalThis.crypto.randomUUID()
}

export function unknownType(type: unknown): string {
  return `Unknown or missing message type: ${JSON.stringify(type ?? null).slice(0, 64)}`
}

/**
 * The ids an ack frame names (docs/protocol.md A.8): its `message_id` and/or the elements of its
 * `message_ids` array. An ack naming none yields one undefined id, so it is counted as unknown.
 */
export function ackIds(obj: JsonObject): unknown[] {
  const list = obj.message_ids
  const ids: unknown[] = Array.isArray(list) ? [...list] : list === undefined ? [] : [undefined]
  if ('message_id' in obj || ids.length === 0) ids.unshift(obj.message_id)
  return ids
}
