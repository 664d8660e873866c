import type { z } from 'zod'
import { closest } from '../util/closest.js'

/**
 * The problem lines of a settings report: each says where (the key's path), what is wrong and,
 * when it can, what to write instead — the closest known key for a typo, `true` for a YAML
 * `yes`, the line and a caret for YAML that does not parse.
 */

/** The parts of a zod schema's definition walked to find the keys a section takes. */
interface SchemaDef {
  readonly type: string
  readonly innerType?: Walkable
  readonly in?: Walkable
  readonly element?: Walkable
  readonly shape?: Readonly<Record<string, Walkable>>
}
interface Walkable {
  readonly _zod: { readonly def: SchemaDef }
}

const WRAPPERS = new Set(['default', 'prefault', 'nullable', 'optional', 'readonly', 'catch', 'nonoptional'])

function unwrap(schema: Walkable): Walkable {
  let s = schema
  for (;;) {
    const def = s._zod.def
    const inner = WRAPPERS.has(def.type) ? def.innerType : def.type === 'pipe' ? def.in : undefined
    if (inner === undefined) return s
    s = inner
  }
}

/** The keys the mapping at `path` takes, or null when the schema has no mapping there. */
function keysAt(schema: Walkable, path: readonly PropertyKey[]): string[] | null {
  let s: Walkable | undefined = unwrap(schema)
  for (const key of path) {
    const def: SchemaDef = s._zod.def
    const shape = def.type === 'object' ? def.shape : undefined
    s = shape !== undefined ? (Object.hasOwn(shape, key) ? shape[String(key)] : undefined) : def.type === 'array' ? def.element : undefined
    if (s === undefined) return null
    s = unwrap(s)
  }
  const shape = s._zod.def.type === 'object' ? s._zod.def.shape : undefined
  return shape === undefined ? null : Object.keys(shape)
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let at = raw
  for (const key of path) at = typeof at === 'object' && at !== null && Object.hasOwn(at, key) ? (at as Record<PropertyKey, unknown>)[key] : undefined
  return at
}

const where = (path: readonly PropertyKey[]) => (path.length > 0 ? path.map(String).join('.') : '(root)')

/** A value as the user wrote it, strings in single quotes like YAML's, cut at 80 characters. */
function shown(value: unknown): string {
  let text: string
  try {
    text = typeof value === 'string' ? `'${value}'` : (JSON.stringify(value) ?? String(value))
  } catch {
    // A YAML alias can make a value that contains itself.
    text = Array.isArray(value) ? 'a list' : 'a mapping'
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

function unknownKey(path: readonly PropertyKey[], key: string, known: readonly string[] | null): string {
  const at = [...path, key]
  const near = known === null ? null : closest(key, known)
  if (near !== null) return `${where(at)}: unknown key; did you mean ${where([...path, near])}?`
  if (path.length === 0 || known === null) return `${where(at)}: unknown key (docs/configuration.md lists every setting)`
  return `${where(at)}: unknown key; ${where(path)} takes ${known.join(', ')}`
}

/** YAML 1.1 spelled booleans with these words; the YAML 1.2 the file is read as keeps them strings. */
const YAML11_BOOLEANS = /^(y|n|yes|no|on|off)$/i

/** What to write for a value of the wrong type, and what was there. */
function wrongType(expected: string, value: unknown): string {
  switch (expected) {
    case 'boolean':
      return typeof value === 'string' && YAML11_BOOLEANS.test(value)
        ? `expected true or false (YAML \`${value}\` is a string here), got ${shown(value)}`
        : `expected true or false, got ${shown(value)}`
    case 'number':
      return typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))
        ? `expected a number (write it without quotes), got ${shown(value)}`
        : `expected a number, got ${shown(value)}`
    case 'string':
      return `expected a string (put it in quotes), got ${shown(value)}`
    case 'array':
      return `expected a list (\`- item\` lines or [a, b]), got ${shown(value)}`
    case 'object':
      return `expected a mapping (\`key: value\` lines), got ${shown(value)}`
    default:
      return `expected ${expected}, got ${shown(value)}`
  }
}

/** The report lines of one zod issue over the raw settings (`raw`, validated against `schema`). */
export function describeIssues(issue: z.core.$ZodIssue, raw: unknown, schema: z.core.$ZodType): string[] {
  const value = valueAt(raw, issue.path)
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = keysAt(schema as unknown as Walkable, issue.path)
      return issue.keys.map((key) => unknownKey(issue.path, key, known))
    }
    case 'invalid_type':
      if (value === undefined) return [`${where(issue.path)}: required`]
      return [`${where(issue.path)}: ${wrongType(issue.expected, value)}`]
    case 'invalid_value': {
      const options = issue.values.map(String)
      const near = typeof value === 'string' ? closest(value, options) : null
      return [`${where(issue.path)}: expected one of ${options.join(', ')}, got ${shown(value)}${near === null ? '' : `; did you mean ${near}?`}`]
    }
    default:
      return [`${where(issue.path)}: ${issue.message}`]
  }
}

/** The parts of the yaml package's parse error used here. */
interface YamlError {
  readonly message: string
  readonly linePos?: readonly [{ readonly line: number; readonly col: number }, ...unknown[]]
}

/**
 * A YAML syntax error as a report line: the parser's reason at its line and column, then that
 * line (and the one before, for context) with a caret under the column.
 */
export function yamlProblem(err: unknown, text: string): string {
  const { message, linePos } = err as YamlError
  const reason = message.split(/ at line \d+, column \d+/)[0]!.split('\n')[0]!
  if (linePos === undefined) return `YAML: ${reason}`
  const { line, col } = linePos[0]
  const lines = text.split(/\r?\n/)
  const width = String(line).length
  const numbered = (n: number) => `    ${String(n).padStart(width)} | ${lines[n - 1] ?? ''}`.trimEnd()
  const shownLines = line > 1 ? [numbered(line - 1), numbered(line)] : [numbered(line)]
  const caret = `    ${' '.repeat(width)} | ${' '.repeat(Math.max(0, col - 1))}^`
  return [`YAML syntax error at line ${line}, column ${col}: ${reason}`, ...shownLines, caret].join('\n')
}
