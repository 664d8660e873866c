import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { stringify as toYaml } from 'yaml'
import { envelopeDialect, loadSettings, parseSettings, type Settings, SettingsError } from '../../src/index.js'
import { tokenSecretProblems } from '../../src/auth/token-policy.js'
import { type SettingsCheck, SettingsSchema } from '../../src/config/settings.js'
import { RUNS } from './arbitraries.js'

/**
 * The settings parser turns anything a file or a caller gives it into either deep-frozen settings
 * or a SettingsError listing problems; it throws nothing else. A YAML file reads as the same
 * object given directly would.
 */

/** Every key the schema knows, at any level (read from the schema, so new keys are covered too). */
function schemaKeys(): string[] {
  const keys = new Set<string>()
  const walk = (schema: unknown): void => {
    const def = (schema as { _zod?: { def?: Record<string, unknown> } } | undefined)?._zod?.def
    if (def === undefined) return
    if (def.type === 'object') {
      for (const [k, v] of Object.entries(def.shape as Record<string, unknown>)) {
        keys.add(k)
        walk(v)
      }
    }
    for (const inner of [def.innerType, def.in, def.out, def.element]) walk(inner)
  }
  walk(SettingsSchema)
  return [...keys]
}

const KEYS = schemaKeys()
const key = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...KEYS) },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', 'colour', '') },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }) },
)
// Strings that pass some of the schema's rules, so valid settings and the checks are reached too.
const text = fc.oneof(
  fc.constantFrom(
    '', '*', 'a'.repeat(16), 'x'.repeat(300), 'redis://127.0.0.1:6379/0', 'postgres://u@127.0.0.1:5432/d', 'https://app.example.com', 'app.example.com',
    'production', 'development', 'info', 'silent', 'json', 'task.*', 'roomcast_events', 'public.events', 'workflow:{id}', 'workflow:*', 'global',
  ),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
)
const number = fc.oneof(fc.constantFrom(0, 1, 0.5, 2, 10, 100, 65535, 65536, 100_000, 100_001, -1), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }))
const settingsLike = fc.letrec<{ value: unknown; object: Record<string, unknown> }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', maxDepth: 4 }, fc.constant(null), fc.boolean(), number, text, fc.array(tie('value'), { maxLength: 3 }), tie('object')),
  object: fc.dictionary(key, tie('value'), { maxKeys: 6, noNullPrototype: true }),
})).object

const checks: SettingsCheck[] = [(s) => envelopeDialect.settingsProblems(s, 'workflow'), tokenSecretProblems]

type Outcome = { settings: Settings } | { problems: readonly string[] }

/** What the parser made of its input: settings, or the problems of the SettingsError it threw; anything else fails. */
function outcome(parse: () => Settings): Outcome {
  try {
    const settings = parse()
    expectDeepFrozen(settings)
    return { settings }
  } catch (err) {
    expect(err, String(err)).toBeInstanceOf(SettingsError)
    const problems = (err as SettingsError).problems
    expect(problems.length).toBeGreaterThan(0)
    for (const p of problems) expect(typeof p).toBe('string')
    return { problems }
  }
}

function expectDeepFrozen(value: unknown, path = 'settings'): void {
  if (typeof value !== 'object' || value === null) return
  expect(Object.isFrozen(value), `${path} is not frozen`).toBe(true)
  for (const [k, v] of Object.entries(value)) expectDeepFrozen(v, `${path}.${k}`)
}

const dir = mkdtempSync(join(tmpdir(), 'roomcast-settings-prop-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let files = 0
const yamlFile = (body: string): string => {
  const file = join(dir, `s${++files}.yaml`)
  writeFileSync(file, body)
  return file
}
const load = (file: string) => loadSettings({ service: 'workflow', file, env: {}, checks })

describe('the settings parser: frozen settings or a list of problems, never anything else', () => {
  it(`any JSON object, keys of the schema at any level (${RUNS} cases)`, () => {
    let valid = 0
    fc.assert(
      fc.property(settingsLike, (raw) => {
        if ('settings' in outcome(() => parseSettings(raw, 'prop', checks))) valid++
        expect(({} as Record<string, unknown>).port).toBeUndefined()
      }),
      { numRuns: RUNS },
    )
    // Not only refusals: some of the generated objects are valid settings.
    expect(valid).toBeGreaterThan(0)
  })

  it(`any JSON value at the root (${RUNS} cases)`, () => {
    fc.assert(fc.property(fc.jsonValue(), (raw) => void outcome(() => parseSettings(raw, 'prop', checks))), { numRuns: RUNS })
  })

  it(`a YAML file reads as the same object given directly: the same settings or the same problems (${RUNS} cases)`, () => {
    fc.assert(
      fc.property(settingsLike, (raw) => {
        expect(outcome(() => load(yamlFile(toYaml(raw))))).toEqual(outcome(() => parseSettings(raw, 'prop', checks)))
      }),
      { numRuns: RUNS },
    )
  })

  it('regression: a __proto__ key in a YAML file is refused as an unknown key, as it is in JSON (it was merged: its keys read as settings)', () => {
    // The same problems as the same object given as JSON, whatever their wording; and the key is named, not followed.
    const top = '{"__proto__":{"api_key":"abcdefghijk","colour":"blue"}}'
    const inAuth = '{"auth":{"__proto__":{"required":true}}}'
    const viaYaml = outcome(() => load(yamlFile('__proto__:\n  api_key: abcdefghijk\n  colour: blue\n')))
    expect(viaYaml).toEqual(outcome(() => parseSettings(JSON.parse(top), 'prop', checks)))
    expect(viaYaml).toEqual({ problems: [expect.stringMatching(/^__proto__: unknown key/)] })
    const nested = outcome(() => load(yamlFile('auth:\n  __proto__:\n    required: true\n')))
    expect(nested).toEqual(outcome(() => parseSettings(JSON.parse(inAuth), 'prop', checks)))
    expect(nested).toEqual({ problems: [expect.stringMatching(/^auth\.__proto__: unknown key/)] })
  })

  it(`any YAML-ish text (${RUNS} cases)`, () => {
    // The yaml package warns on stderr about unresolved tags and collection keys; those are expected here.
    const quiet = vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
    const token = fc.constantFrom(...KEYS.slice(0, 12), '__proto__', ': ', ':', '\n', '  ', '- ', '[', ']', '{', '}', ',', '&a ', '*a', '!!str ', '!!binary ', '!!set ', '<<: ', '? ', '"', "'", '#', '1', '-1', '.inf', 'null', 'true', '~', '|', '>')
    try {
      fc.assert(fc.property(fc.array(token, { maxLength: 30 }), (tokens) => void outcome(() => load(yamlFile(tokens.join(''))))), { numRuns: RUNS })
    } finally {
      quiet.mockRestore()
    }
  })
})
