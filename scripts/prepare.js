// `prepare` runs after every npm install, and again whenever npx installs this project into its
// cache (the first `npx roomcast …` in a clone): a full tsc build of ~30 s each time. Build only
// when dist/ is missing or older than a source file or a tsconfig.
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

const root = join(import.meta.dirname, '..')

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

if (stale()) {
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' })
}

// The dashboard page bundles roomcast/client: rebuilt when missing or older than its sources (< 1 s).
function pageStale() {
  const page = join(root, 'dist/dashboard/app.js')
  if (!existsSync(page)) return true
  const built = statSync(page).mtimeMs
  return ['dashboard', 'src/client', 'src/protocol'].some((dir) =>
    readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' }).some((file) => statSync(join(root, dir, file)).mtimeMs > built),
  )
}

if (pageStale()) execFileSync(process.execPath, [join(root, 'scripts/build-dashboard.js')], { cwd: root, stdio: 'inherit' })
