// Builds dist/client.cjs: roomcast/client as one CommonJS file, for `require('roomcast/client')`
// on a Node without require(esm) (before 20.19 it is behind a flag). ESM importers get
// dist/src/client/ from tsc; this bundle has the same code (src/client and the protocol module it uses).
import { build } from 'esbuild'
import { join } from 'node:path'

const root = join(import.meta.dirname, '..')
await build({
  entryPoints: [join(root, 'src/client/index.ts')],
  outfile: join(root, 'dist/client.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'neutral',
  target: 'es2022',
  logLevel: 'warning',
})
