import { execFileSync } from 'node:child_process'
import { appendFile, mkdir, mkdtemp, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FileWatcherSource, type FileWatcherOptions } from '../../src/index.js'
import { RecordingSink } from '../helpers/recording-sink.js'

describe('file watcher source', () => {
  let base: string
  let root: string
  let sink: RecordingSink
  let source: FileWatcherSource | null = null

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'roomcast-fw-'))
    root = join(base, 'root')
    await mkdir(root)
    sink = new RecordingSink()
  })
  afterEach(async () => {
    await source?.stop()
    source = null
    await rm(base, { recursive: true, force: true })
  })

  async function start(opts: Partial<FileWatcherOptions> = {}): Promise<FileWatcherSource> {
    source = new FileWatcherSource({ root, debounceMs: 20, maxPending: 1000, ...opts }, sink)
    await source.setup()
    await source.start()
    return source
  }

  it('reports add, change and unlink with paths relative to the root', async () => {
    await mkdir(join(root, 'src'))
    await start()
    await writeFile(join(root, 'a.txt'), 'one')
    await sink.fileEvent('a.txt', 'add')
    await appendFile(join(root, 'a.txt'), ' two')
    await sink.fileEvent('a.txt', 'change')
    await unlink(join(root, 'a.txt'))
    await sink.fileEvent('a.txt', 'unlink')
    await writeFile(join(root, 'src', 'main.ts'), 'x')
    await sink.fileEvent('src/main.ts', 'add')
    expect(sink.files).toEqual([
      { file: 'a.txt', event: 'add' },
      { file: 'a.txt', event: 'change' },
      { file: 'a.txt', event: 'unlink' },
      { file: 'src/main.ts', event: 'add' },
    ])
  })

  it('ignores .git/, node_modules/ and the configured patterns', async () => {
    for (const dir of ['.git', 'node_modules', 'dist', 'build/out']) await mkdir(join(root, dir), { recursive: true })
    await start({ ignore: ['dist', '*.log', 'build/out'] })
    for (const f of ['.git/HEAD', 'node_modules/x.js', 'dist/app.js', 'debug.log', 'build/out/a.o']) await writeFile(join(root, f), 'x')
    // Written last into the same folders: once these arrive, the ignored writes before them would have too.
    for (const f of ['build/kept.o', 'sentinel.txt']) await writeFile(join(root, f), 'x')
    await sink.fileEvent('sentinel.txt', 'add')
    await sink.fileEvent('build/kept.o', 'add')
    await source!.flush()
    expect(sink.files.map((f) => f.file).sort()).toEqual(['build/kept.o', 'sentinel.txt'])
  })

  it('never follows or reports a symlink to outside the root', async () => {
    const outside = join(base, 'outside')
    await mkdir(outside)
    await writeFile(join(outside, 'secret.txt'), 'secret')
    await symlink(outside, join(root, 'out-dir'))
    await start()
    await symlink(join(outside, 'secret.txt'), join(root, 'out-file'))
    await symlink(join(base, 'nowhere'), join(root, 'dangling'))
    await writeFile(join(root, 'target.txt'), 'in')
    await symlink(join(root, 'target.txt'), join(root, 'in-link'))
    await writeFile(join(outside, 'secret.txt'), 'changed')
    await writeFile(join(outside, 'new.txt'), 'new')
    await sink.fileEvent('in-link', 'add')
    await writeFile(join(root, 'sentinel.txt'), 'x')
    await sink.fileEvent('sentinel.txt', 'add')
    await unlink(join(root, 'out-file'))
    await writeFile(join(root, 'sentinel2.txt'), 'x')
    await sink.fileEvent('sentinel2.txt', 'add')
    expect(sink.files.map((f) => f.file).sort()).toEqual(['in-link', 'sentinel.txt', 'sentinel2.txt', 'target.txt'])
  })

  it('coalesces a burst of 10,000 new files, bounded, without holding up other work', async () => {
    // Prepared outside the root by one shell (fast), then moved in by one rename: a burst like a checkout.
    const staged = join(base, 'staged')
    await mkdir(staged)
    execFileSync('sh', ['-c', 'seq 0 9999 | sed s/^/f/ | xargs touch'], { cwd: staged })
    await start({ maxPending: 500, debounceMs: 100 })
    // Another channel's publish, scheduled from inside the batch: it must run before the batch ends.
    sink.onFile = () => {
      sink.onFile = null
      setImmediate(() => sink.mark('other channel'))
    }
    await rename(staged, join(root, 'big'))
    await sink.until(() => sink.files.length + sink.dropped === 10_000, 'every change reported or counted', 60_000)
    expect(sink.dropped).toBeGreaterThan(0)
    expect(new Set(sink.files.map((f) => f.file)).size).toBe(sink.files.length)
    expect(sink.files.every((f) => f.event === 'add' && /^big\/f\d+$/.test(f.file))).toBe(true)
    const other = sink.calls.findIndex((c) => c.kind === 'mark')
    const firstOverflow = sink.calls.findIndex((c) => c.kind === 'overflow')
    expect(other).toBeGreaterThan(0)
    expect(other).toBeLessThan(firstOverflow)
  }, 90_000)

  it('fails at boot naming a root that does not exist or is not a directory', async () => {
    const missing = join(base, 'missing')
    await expect(new FileWatcherSource({ root: missing, debounceMs: 20, maxPending: 10 }, sink).setup()).rejects.toThrow(
      `${missing}: does not exist`,
    )
    await writeFile(join(base, 'file'), 'x')
    await expect(new FileWatcherSource({ root: join(base, 'file'), debounceMs: 20, maxPending: 10 }, sink).setup()).rejects.toThrow(
      'is not a directory',
    )
  })
})
