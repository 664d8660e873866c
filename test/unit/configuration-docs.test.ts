import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { parseSettings } from '../../src/index.js'

const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8')
const source = readFileSync(new URL('../../src/config/settings.ts', import.meta.url), 'utf8')
const rows = [...doc.matchAll(/^\| `([a-z_.]+)` \| `([^`]*)` \| ([^|]+) \| ([^|]+) \|$/gm)].map((m) => ({
  name: m[1]!,
  default: m[2]!,
  env: m[3]!.trim(),
  meaning: m[4]!.trim(),
}))

/** Every leaf setting with its default, nested keys joined with dots; a list is one setting. */
function leaves(obj: Record<string, unknown>, prefix = ''): [string, unknown][] {
  return Object.entries(obj).flatMap(([k, v]) =>
    typeof v === 'object' && v !== null && !Array.isArray(v) ? leaves(v as Record<string, unknown>, `${prefix}${k}.`) : [[`${prefix}${k}`, v] as [string, unknown]],
  )
}

describe('docs/configuration.md', () => {
  const defaults = leaves(parseSettings({}) as Record<string, unknown>)

  it('lists exactly the settings of the schema, in its order', () => {
    expect(rows.map((r) => r.name)).toEqual(defaults.map(([name]) => name))
  })

  it('states each default as the schema has it', () => {
    const byName = new Map(defaults)
    for (const r of rows) expect(parseYaml(r.default), r.name).toEqual(byName.get(r.name))
  })

  it('names only environment variables the loader reads, and explains every setting', () => {
    for (const r of rows) {
      expect(r.meaning.length, r.name).toBeGreaterThan(10)
      for (const [v] of r.env.matchAll(/[A-Z][A-Z_<>]+[A-Z]/g)) {
        const literal = v.replace('<SERVICE>', '${key}')
        expect(source, `${r.name}: ${v}`).toContain(literal)
      }
    }
  })
})
