import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT } from '../helpers/supervisor.js'

/**
 * What the README and docs/*.md point at must be in the repository a reader has: no paths on
 * the machine a page was written on, no commits only a local branch had, no files git ignores
 * (raw results, logs of one run). Runtime output locations a page may name are listed below.
 */
const PAGES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]
const text = (page: string) => readFileSync(join(ROOT, page), 'utf8')

/** Each line of every page with its place, for the report. */
function* lines(): Generator<[where: string, line: string]> {
  for (const page of PAGES) {
    const all = text(page).split('\n')
    for (let i = 0; i < all.length; i++) yield [`${page}:${i + 1}`, all[i]!]
  }
}

/** Top-level folders whose absolute paths are somebody's machine: home, scratch and checkout folders. */
const MACHINE_PATH = /(?<![\w.~-])\/(?:work|root|home|Users|tmp|var\/folders|private|mnt|srv|opt)\/[^\s`'")\]]*/g

/** Hex words of 7–40 characters with a digit and a letter: the way a commit id is written. */
const COMMIT_ID = /(?<![\w./-])(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}(?![\w-])/g

/** Relative paths with a folder and a file name (placeholders like <run> or {id} and globs are not files). */
const RELATIVE_PATH = /(?<![\w./~<{-])(?:[\w.-]+\/)+[\w.-]*\.\w+(?![\w/<{])/g

/** Where a build or a run writes: a page may say where output goes (dist/src/cli.js, logs/workflow.log). */
const OUTPUT_FOLDERS = ['dist/', 'logs/', 'node_modules/']

const git = (args: string[]) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' })
const inGit = git(['rev-parse', '--is-inside-work-tree']).stdout.trim() === 'true'

describe('what the README and docs/*.md point at is in the repository', () => {
  it('no path outside the repository: no absolute path of a machine, no ../ leaving the repository', () => {
    const outside: string[] = []
    for (const [where, line] of lines()) {
      for (const m of line.matchAll(MACHINE_PATH)) outside.push(`${where}: ${m[0]}`)
      const page = where.slice(0, where.lastIndexOf(':'))
      for (const m of line.matchAll(/(?<![\w.])(?:\.\.\/)+[^\s`'")\]]*/g)) {
        const target = relative(ROOT, resolve(ROOT, dirname(page), m[0]))
        if (target === '..' || target.startsWith(`..${sep}`)) outside.push(`${where}: ${m[0]}`)
      }
    }
    expect(outside).toEqual([])
  })

  it("the README's documentation list names every page of docs/", () => {
    const readme = text('README.md')
    const list = readme.slice(readme.indexOf('## Documentation'))
    expect(PAGES.filter((p) => p.startsWith('docs/') && !list.includes(`\`${p}\``))).toEqual([])
  })

  it.skipIf(!inGit)('every commit id is a commit of this repository (skipped outside a git checkout)', () => {
    const unknown: string[] = []
    for (const [where, line] of lines()) {
      for (const [id] of line.matchAll(COMMIT_ID)) if (git(['cat-file', '-e', `${id}^{commit}`]).status !== 0) unknown.push(`${where}: ${id}`)
    }
    expect(unknown).toEqual([])
  })

  it.skipIf(!inGit)('no git-ignored file is named, outside the output folders (skipped outside a git checkout)', () => {
    const named = new Map<string, string>()
    for (const [where, line] of lines()) {
      for (const [path] of line.matchAll(RELATIVE_PATH)) if (!OUTPUT_FOLDERS.some((f) => path.startsWith(f))) named.set(path, where)
    }
    expect(named.size).toBeGreaterThan(10)
    // check-ignore prints the ignored ones among the paths given (exit 1 when none is).
    const ignored = spawnSync('git', ['check-ignore', '--no-index', '--stdin'], { cwd: ROOT, input: [...named.keys()].join('\n'), encoding: 'utf8' }).stdout.split('\n')
    expect(ignored.filter((p) => p !== '').map((p) => `${named.get(p)}: ${p}`)).toEqual([])
  })
})

if (!inGit) console.warn('docs-locations: not in a git checkout; the commit-id and git-ignored checks are skipped')
