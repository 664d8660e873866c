import type { z } from 'zod'
import { type ChannelMatch, type CompiledChannel, channelProblem, matchChannel } from '../protocol/channels.js'
import { AppError, ErrorCode } from '../protocol/codes.js'
import { MAX_DATA_DEPTH, valueTooDeep } from '../protocol/json-depth.js'
import type { JsonObject } from '../protocol/messages.js'
import { describeIssue } from './request-registry.js'

/** Checks a channel name is well-formed and one of the service's; throws INVALID_CHANNEL. */
export function matchChannelOrThrow(compiled: readonly CompiledChannel[], channel: unknown): ChannelMatch & { channel: string } {
  const problem = channelProblem(channel)
  if (problem !== null) throw new AppError(ErrorCode.INVALID_CHANNEL, problem)
  const match = matchChannel(compiled, channel as string)
  if (match === null) throw new AppError(ErrorCode.INVALID_CHANNEL, `Unknown channel: ${channel as string}`)
  return { ...match, channel: channel as string }
}

/** The owner a private channel belongs to (its `privateTo` parameter), or null for a shared channel. */
export function ownerOf(match: ChannelMatch): string | null {
  return match.spec.privateTo !== undefined ? (match.params[match.spec.privateTo] ?? null) : null
}

/**
 * The one validation every publish path shares (socket, HTTP, MCP, in-process): channel
 * pattern, declared event name, payload schema. Throws INVALID_CHANNEL / INVALID_EVENT. Also
 * says whose private channel it is (`owner`, null for a shared one), for the write check.
 */
export function validatePublication(
  compiled: readonly CompiledChannel[],
  events: Readonly<Record<string, z.ZodType<JsonObject>>>,
  channel: unknown,
  event: unknown,
  data: unknown,
): { channel: string; event: string; data: JsonObject; owner: string | null } {
  const match = matchChannelOrThrow(compiled, channel)
  if (typeof event !== 'string' || event.length === 0) throw new AppError(ErrorCode.INVALID_EVENT, 'Missing event name')
  const schema = Object.hasOwn(events, event) ? events[event] : undefined
  if (schema === undefined) throw new AppError(ErrorCode.INVALID_EVENT, `Unknown event: ${event}`)
  const payload = data ?? {}
  if (typeof payload !== 'object' || Array.isArray(payload)) {
    throw new AppError(ErrorCode.INVALID_EVENT, `Payload of ${event} must be an object`)
  }
  // HTTP and in-process payloads skip the frame decoder's depth check: apply it here.
  if (valueTooDeep(payload, MAX_DATA_DEPTH)) {
    throw new AppError(ErrorCode.INVALID_EVENT, `Payload of ${event} is nested deeper than ${MAX_DATA_DEPTH} levels`)
  }
  const parsed = schema.safeParse(payload)
  if (!parsed.success) throw new AppError(ErrorCode.INVALID_EVENT, `${event}: ${describeIssue(parsed.error, 'field')}`)
  return { channel: match.channel, event, data: parsed.data, owner: ownerOf(match) }
}
