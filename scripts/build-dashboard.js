// Builds the dashboard page (dashboard/) into dist/dashboard: one ES module bundling
// roomcast/client, and the stylesheet. Run by `npm run build` and by `prepare` when stale.
import { copyFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { build } from 'esbuild'

const root = join(import.meta.dirname, '..')
const out = join(root, 'dist/dashboard')
mkdirSync(out, { recursive: true })
await build({
  entryPoints: [join(root, 'dashboard/app.ts')],
  outfile: join(out, 'app.js'),
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  platform: 'browser',
  logLevel: 'warning',
})
copyFileSync(join(root, 'dashboard/app.css'), join(out, 'app.css'))
