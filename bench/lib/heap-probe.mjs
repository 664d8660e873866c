// Preloaded into every server process by `bench/run.js --heap` (node --expose-gc --import this):
// on SIGUSR2 the process collects its garbage (twice: a full GC, then what finalizers freed) and
// writes its process.memoryUsage() to $ROOMCAST_HEAP_DIR/<pid>.json, for the runner to read the
// heap and RSS after GC at the start and with a storm's connections held. Nothing in the server's
// own code knows of it.
import { renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const dir = process.env.ROOMCAST_HEAP_DIR
if (dir !== undefined && typeof globalThis.gc === 'function') {
  process.on('SIGUSR2', () => {
    globalThis.gc()
    globalThis.gc()
    const m = process.memoryUsage()
    const file = join(dir, `${process.pid}.json`)
    writeFileSync(`${file}.tmp`, JSON.stringify({ at: Date.now(), rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers }))
    renameSync(`${file}.tmp`, file)
  })
}
