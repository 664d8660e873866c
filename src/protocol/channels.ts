/**
 * Channel patterns: `workflow:{id}` style templates compiled once to anchored regular
 * expressions. A `private` pattern names the parameter that must equal the reader's user id.
 */

/** A channel declaration of a service. */
export interface ChannelSpec {
  /** Template, e.g. `global`, `workflow:{id}`, `goal-teams:{user}`. */
  readonly pattern: string
  /** Name of the template parameter that must equal the reader's user id (private channel). */
  readonly privateTo?: string
}

/** Longest channel name accepted anywhere. */
export const MAX_CHANNEL_LENGTH = 256

// A parameter is one non-empty segment with no whitespace, control characters or separators.
const PARAM = '([^\\s:/\\u0000-\\u001f\\u007f]{1,200})'

export interface CompiledChannel {
  readonly spec: ChannelSpec
  readonly regex: RegExp
  readonly params: readonly string[]
}

export interface ChannelMatch {
  readonly spec: ChannelSpec
  readonly params: Readonly<Record<string, string>>
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** Compiles a channel template to a matcher. */
export function compileChannel(spec: ChannelSpec): CompiledChannel {
  const params: string[] = []
  let source = '^'
  let last = 0
  for (const m of spec.pattern.matchAll(/\{([a-z_][a-z0-9_]*)\}/gi)) {
    source += escape(spec.pattern.slice(last, m.index)) + PARAM
    params.push(m[1] as string)
    last = (m.index ?? 0) + m[0].length
  }
  source += escape(spec.pattern.slice(last)) + '$'
  if (spec.privateTo !== undefined && !params.includes(spec.privateTo)) {
    throw new Error(`Channel pattern ${spec.pattern} has no parameter {${spec.privateTo}}`)
  }
  return { spec, regex: new RegExp(source, 'u'), params }
}

/** Finds the pattern a channel name matches, or null. Patterns are tried in declaration order. */
export function matchChannel(compiled: readonly CompiledChannel[], channel: string): ChannelMatch | null {
  for (const c of compiled) {
    const m = c.regex.exec(channel)
    if (m === null) continue
    const params: Record<string, string> = {}
    c.params.forEach((name, i) => {
      params[name] = m[i + 1] as string
    })
    return { spec: c.spec, params }
  }
  return null
}

/** Why a value is not a well-formed channel name, or null when it is one. */
export function channelProblem(value: unknown): string | null {
  if (value === undefined || value === null) return 'Missing channel'
  if (typeof value !== 'string') return 'Channel must be a string'
  if (value.length === 0) return 'Channel must not be empty'
  if (value.length > MAX_CHANNEL_LENGTH) return `Channel longer than ${MAX_CHANNEL_LENGTH} characters`
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f]/u.test(value)) return 'Channel must not contain whitespace or control characters'
  return null
}

/**
 * An observer's channel pattern (docs/protocol.md A.9): a channel name where `*` stands for any
 * run of characters, separators included — `*` is every channel, `workflow:*` every channel that
 * starts with `workflow:`. Returns the matcher, or throws an Error naming the problem. The
 * matcher never backtracks: a pattern of many `*` (`*a*a*a…b`, which a regular expression
 * would try in ~n^k ways on a run of `a`s) costs a channel at most its length per part.
 */
export function compileObserverPattern(pattern: unknown): (channel: string) => boolean {
  if (pattern === undefined || pattern === null) throw new Error("Missing field 'pattern'")
  if (typeof pattern !== 'string') throw new Error("Field 'pattern' must be a string")
  const problem = channelProblem(pattern)
  if (problem !== null) throw new Error(`Invalid field 'pattern': ${problem.replace(/^Channel/, 'pattern')}`)
  if (pattern === '*') return () => true
  if (!pattern.includes('*')) return (channel) => channel === pattern
  const parts = pattern.split('*')
  return (channel) => globMatches(parts, channel)
}

/**
 * Whether `channel` is `parts` in order with any run of characters between them: the first part
 * at the start, the last at the end, each middle part at its first place after the one before
 * (the leftmost place leaves the most room to the others, so no other needs trying).
 */
function globMatches(parts: readonly string[], channel: string): boolean {
  const first = parts[0] as string
  const last = parts[parts.length - 1] as string
  if (channel.length < first.length + last.length || !channel.startsWith(first) || !channel.endsWith(last)) return false
  const end = channel.length - last.length
  let at = first.length
  for (let i = 1; i < parts.length - 1; i++) {
    const part = parts[i] as string
    if (part === '') continue
    const found = channel.indexOf(part, at)
    if (found < 0 || found + part.length > end) return false
    at = found + part.length
  }
  return true
}
