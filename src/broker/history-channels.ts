import { type CompiledChannel, compileChannel, matchChannel } from '../protocol/channels.js'
import type { HistoryOptions } from './position.js'

/**
 * Which channels keep history. A `history` entry names its channels with the service's
 * channel syntax: a literal (`global`), a template (`workflow:{id}`), or a glob where `*`
 * stands for one parameter, exactly like `{id}` (one segment without `:`, `/`, whitespace).
 */
export interface HistoryRule extends HistoryOptions {
  /** The entry's channel pattern as written in the settings. */
  readonly channel: string
}

/** What one pattern character is: a literal, or a parameter (one or more segment characters). */
type Token = { readonly kind: 'char'; readonly char: string } | { readonly kind: 'param' }

// Characters a parameter may hold (the complement of this set), as in protocol/channels.ts.
// eslint-disable-next-line no-control-regex
const NOT_IN_PARAM = /[\s:/\u0000-\u001f\u007f]/u

function tokens(pattern: string): Token[] {
  const out: Token[] = []
  for (const part of pattern.split(/(\{[a-z_][a-z0-9_]*\}|\*)/i)) {
    if (part === '') continue
    if (part === '*' || /^\{[a-z_][a-z0-9_]*\}$/i.test(part)) out.push({ kind: 'param' })
    else for (const char of part) out.push({ kind: 'char', char })
  }
  return out
}

/** A history pattern as a channel template: each `*` becomes a named parameter. */
export function historyTemplate(pattern: string): string {
  let n = 0
  return pattern.replace(/\*/g, () => `{_${n++}}`)
}

/**
 * Whether some channel name matches both patterns. A parameter is read as "one segment
 * character, then any number more", and the search walks both patterns at once, memoised
 * (patterns are at most a few hundred characters, so at most n × m states × 2).
 */
export function patternsOverlap(a: string, b: string): boolean {
  const ta = tokens(a)
  const tb = tokens(b)
  const memo = new Map<string, boolean>()
  // (i, j): positions; sa/sb: whether a's / b's current parameter has consumed its first character.
  const walk = (i: number, sa: boolean, j: number, sb: boolean): boolean => {
    const key = `${i},${sa ? 1 : 0},${j},${sb ? 1 : 0}`
    const known = memo.get(key)
    if (known !== undefined) return known
    memo.set(key, false)
    let ok = false
    if (i === ta.length && j === tb.length) ok = true
    // A parameter that already has a character may end here.
    else if (sa && walk(i + 1, false, j, sb)) ok = true
    else if (sb && walk(i, sa, j + 1, false)) ok = true
    else if (i < ta.length && j < tb.length) {
      const x = ta[i] as Token
      const y = tb[j] as Token
      const shared = x.kind === 'param' ? (y.kind === 'param' ? true : !NOT_IN_PARAM.test(y.char)) : y.kind === 'param' ? !NOT_IN_PARAM.test(x.char) : x.char === y.char
      if (shared) {
        // Consume one character on both sides: a literal advances, a parameter stays (marked started).
        ok = walk(x.kind === 'param' ? i : i + 1, x.kind === 'param', y.kind === 'param' ? j : j + 1, y.kind === 'param')
      }
    }
    memo.set(key, ok)
    return ok
  }
  return walk(0, false, 0, false)
}

/** Settings entries naming channels like `history` does (a channel, a pattern, a glob), compiled; finds the entry of a channel. */
export class ChannelTable<R extends { readonly channel: string }> {
  readonly #rules: readonly { readonly rule: R; readonly compiled: CompiledChannel }[]

  constructor(rules: readonly R[]) {
    this.#rules = rules.map((rule) => ({ rule, compiled: compileChannel({ pattern: historyTemplate(rule.channel) }) }))
  }

  get empty(): boolean {
    return this.#rules.length === 0
  }

  /** The entry of `channel`, or null when none names it. */
  optionsOf(channel: string): R | null {
    for (const { rule, compiled } of this.#rules) {
      if (matchChannel([compiled], channel) !== null) return rule
    }
    return null
  }
}

/** The history rules of a service, compiled; finds the rule of a channel. */
export class HistoryChannels extends ChannelTable<HistoryRule> {}
