import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))
const files = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' })
  .split('\0')
  .filter((f) => f !== '')

/** Each tracked file's lines (files listed but deleted in the working tree are skipped). */
function* lines(): Generator<[file: string, n: number, line: string]> {
  for (const file of files) {
    let text: string
    try {
      text = readFileSync(`${root}/${file}`, 'utf8')
    } catch {
      continue
    }
    const all = text.split('\n')
    for (let i = 0; i < all.length; i++) yield [file, i + 1, all[i] as string]
  }
}

// Built from parts so that this file does not match itself.
const FORBIDDEN = ['../' + 'shared', '/work/' + 'shared', 'PROTOCOL' + '.md', 'STYLE' + '.md', 'DESIGN' + '.md']

describe('references in the repository', () => {
  it('no tracked file cites a spec outside the repository (the spec is docs/protocol.md)', () => {
    expect(files.length).toBeGreaterThan(0)
    const hits: string[] = []
    for (const [file, n, line] of lines()) {
      for (const word of FORBIDDEN) if (line.includes(word)) hits.push(`${file}:${n}: ${word}`)
    }
    expect(hits).toEqual([])
  })

  it('every "docs/protocol.md <section>" citation names a section the page has', () => {
    const spec = readFileSync(`${root}/docs/protocol.md`, 'utf8')
    const sections = new Set([...spec.matchAll(/^#{2,3} ([A-G](?:\.\d+)?)[. ]/gm)].map((m) => m[1]))
    expect([...sections]).toEqual(expect.arrayContaining(['A.1', 'A.4', 'A.8', 'B', 'C', 'D', 'E', 'F', 'G']))
    const dangling: string[] = []
    for (const [file, n, line] of lines()) {
      for (const m of line.matchAll(/docs\/protocol\.md,? ((?:[A-G](?:\.\d+)?)(?:(?:,| and) [A-G](?:\.\d+)?)*)\b/g)) {
        for (const id of (m[1] as string).split(/,| and /).map((s) => s.trim())) {
          if (!sections.has(id)) dangling.push(`${file}:${n}: ${id}`)
        }
      }
    }
    expect(dangling).toEqual([])
  })

  it('every repository path a page of docs/ or the README names in backticks exists', () => {
    const pages = files.filter((f) => /^docs\/.*\.md$/.test(f) || f === 'README.md')
    const missing: string[] = []
    for (const page of pages) {
      const text = readFileSync(`${root}/${page}`, 'utf8')
      // Concrete paths only: placeholders (<name>, {id}, *) and bench results (not tracked) are skipped.
      for (const m of text.matchAll(/`((?:src|services|test|bench|scripts|settings)\/[^`<>*{}\s]+)`/g)) {
        const path = m[1] as string
        if (!path.startsWith('bench/results/') && !existsSync(`${root}/${path}`)) missing.push(`${page}: ${path}`)
      }
    }
    expect(missing).toEqual([])
  })
})
