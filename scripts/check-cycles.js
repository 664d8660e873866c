// Fails when the TypeScript module graph of src/ and services/ has a cycle, type-only imports
// and re-exports included (eslint's import-x/no-cycle skips `import type`). Run by `npm run lint`.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import ts from 'typescript'

const root = resolve(import.meta.dirname, '..')
const files = []
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) walk(path)
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) files.push(path)
  }
}
for (const dir of ['src', 'services']) walk(join(root, dir))

/** `./x.js` names `./x.ts` (NodeNext), `./x` a folder's index.ts; packages are outside the graph. */
function resolveImport(from, spec) {
  if (!spec.startsWith('.')) return null
  const base = resolve(dirname(from), spec)
  for (const candidate of [base.replace(/\.js$/, '.ts'), `${base}.ts`, join(base, 'index.ts')]) if (existsSync(candidate)) return candidate
  return null
}

const edges = new Map(files.map((f) => [f, ts.preProcessFile(readFileSync(f, 'utf8'), true, false).importedFiles.map((i) => resolveImport(f, i.fileName)).filter((t) => t !== null)]))

// Depth-first search; a grey node met again closes a cycle.
const state = new Map()
const stack = []
const cycles = []
function visit(f) {
  state.set(f, 'grey')
  stack.push(f)
  for (const t of edges.get(f) ?? []) {
    if (state.get(t) === 'grey') cycles.push([...stack.slice(stack.indexOf(t)), t].map((p) => relative(root, p)).join(' → '))
    else if (!state.has(t)) visit(t)
  }
  stack.pop()
  state.set(f, 'black')
}
for (const f of files) if (!state.has(f)) visit(f)
if (cycles.length > 0) {
  console.error(`Import cycles (type-only imports included):\n${cycles.map((c) => `  ${c}`).join('\n')}`)
  process.exit(1)
}
