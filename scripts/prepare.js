// `prepare` runs after every npm install, and again whenever npx installs this project into its
// cache (the first `npx roomcast …` in a clone): a full tsc build of ~30 s each time. Build only
// when dist/ is missing or older than a source file or a tsconfig.
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'

const root = join(import.meta.dirname, '..')

// Installed from the tarball (npm pack): dist/ is built and there are no sources to build from.
if (!existsSync(join(root, 'src'))) process.exit(0)

function stale() {
  const cli = join(root, 'dist/src/cli.js')
  if (!existsSync(cli)) return true
  const built = statSync(cli).mtimeMs
  const newer = (file) => statSync(join(root, file)).mtimeMs > built
  if (newer('tsconfig.json') || newer('tsconfig.build.json')) return true
  return ['src', 'services'].some((dir) =>
    readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' }).some((file) => file.endsWith('.ts') && newer(join(dir, file))),
  )
}

// Outputs of a deleted or renamed source stay in dist/ (tsc never removes them) and would be
// packed into the tarball: drop them. A source's outputs are .js, .d.ts and their .map files.
const OUTPUT = /\.(js|js\.map|d\.ts|d\.ts\.map)$/
for (const dir of ['src', 'services']) {
  const out = join(root, 'dist', dir)
  if (!existsSync(out)) continue
  for (const file of readdirSync(out, { recursive: true, encoding: 'utf8' })) {
    if (OUTPUT.test(file) && !existsSync(join(root, dir, file.replace(OUTPUT, '.ts')))) rmSync(join(out, file))
  }
}

if (stale()) {
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' })
}

/** Whether `built` is missing or older than a file under one of `dirs`. */
function older(built, dirs) {
  if (!existsSync(join(root, built))) return true
  const at = statSync(join(root, built)).mtimeMs
  return dirs.some((dir) => readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' }).some((file) => statSync(join(root, dir, file)).mtimeMs > at))
}

// The dashboard page and the CommonJS client bundle roomcast/client: rebuilt when missing or older than their sources (< 1 s each).
if (older('dist/dashboard/app.js', ['dashboard', 'src/client', 'src/protocol'])) execFileSync(process.execPath, [join(root, 'scripts/build-dashboard.js')], { cwd: root, stdio: 'inherit' })
if (older('dist/client.cjs', ['src/client', 'src/protocol'])) execFileSync(process.execPath, [join(root, 'scripts/build-client.js')], { cwd: root, stdio: 'inherit' })
