/** Directories the file watcher never descends into, whatever the settings say. */
export const ALWAYS_IGNORED: readonly string[] = ['.git', 'node_modules']

const escape = (s: string) => s.replace(/[.+^${}()|[\]\\]/g, '\\$&')

// `*` and `?` stay inside one path segment; `**` crosses segments (`a/**/b` also matches `a/b`).
function globSource(glob: string): string {
  let re = ''
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!
    if (c === '*' && glob[i + 1] === '*') {
      const slash = glob[i + 2] === '/'
      re += slash ? '(?:.*/)?' : '.*'
      i += slash ? 2 : 1
    } else if (c === '*') re += '[^/]*'
    else if (c === '?') re += '[^/]'
    else re += escape(c)
  }
  return re
}

// Compiles ignore patterns into one test on `/`-separated paths relative to the root.
// A pattern without `/` matches any single segment (`dist`, `*.log`), as in .gitignore;
// a pattern with `/` matches from the root (`build/out`, `docs/**/*.tmp`), and a directory
// it matches hides everything beneath it.
export function compileIgnore(patterns: readonly string[]): (relative: string) => boolean {
  const segment: RegExp[] = []
  const anchored: RegExp[] = []
  for (const raw of [...ALWAYS_IGNORED, ...patterns]) {
    const p = raw.trim().replace(/^\.\//, '').replace(/\/+$/, '')
    if (p.length === 0) continue
    if (p.includes('/')) anchored.push(new RegExp(`^${globSource(p.replace(/^\//, ''))}(?:/.*)?$`))
    else segment.push(new RegExp(`^${globSource(p)}$`))
  }
  return (relative) => {
    if (relative === '' || relative === '.') return false
    if (anchored.some((r) => r.test(relative))) return true
    return relative.split('/').some((part) => segment.some((r) => r.test(part)))
  }
}
