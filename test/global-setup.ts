import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { ROOT, staleBuild } from './helpers/supervisor.js'

/**
 * Rebuilds dist/ before any test runs when it is missing or older than a source file, so the
 * tests that spawn the built CLI (cli, shutdown, supervision, compat) never run stale code.
 */
export default function setup(): void {
  // The dashboard page (dist/dashboard) too, when older than its sources; a no-op when fresh.
  const page = (): void => void execFileSync(process.execPath, [join(ROOT, 'scripts/prepare.js')], { cwd: ROOT, stdio: 'inherit' })
  const why = staleBuild()
  if (why === null) return page()
  console.log(`global setup: ${why.replace(': run npm run build', '')}; rebuilding`)
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    stdio: 'inherit',
  })
  page()
}
