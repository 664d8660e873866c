import { describe, expect, it } from 'vitest'
import { ChangeBatcher, type ChangeSink } from '../../src/sources/change-batcher.js'
import { compileIgnore } from '../../src/sources/ignore.js'
import { RecordingSink } from '../helpers/recording-sink.js'

describe('change batcher', () => {
  it('holds at most maxPending paths per window and counts the rest as one overflow', async () => {
    const sink = new RecordingSink()
    const batcher = new ChangeBatcher({ windowMs: 60_000, maxPending: 100 }, sink)
    for (let i = 0; i < 10_000; i++) batcher.push(`f${i}`, 'add')
    expect(batcher.pending).toBe(100)
    await batcher.flush()
    expect(sink.files).toHaveLength(100)
    expect(sink.calls.at(-1)).toEqual({ kind: 'overflow', dropped: 9_900 })
    batcher.stop()
  })

  it('folds the changes of one path within a window', async () => {
    const sink = new RecordingSink()
    const batcher = new ChangeBatcher({ windowMs: 60_000, maxPending: 100 }, sink)
    const steps: [string, ('add' | 'change' | 'unlink')[]][] = [
      ['created-then-written', ['add', 'change', 'change']],
      ['created-then-deleted', ['add', 'change', 'unlink']],
      ['deleted-then-recreated', ['unlink', 'add']],
      ['written-then-deleted', ['change', 'unlink']],
    ]
    for (const [file, events] of steps) for (const e of events) batcher.push(file, e)
    await batcher.flush()
    expect(sink.files).toEqual([
      { file: 'created-then-written', event: 'add' },
      { file: 'deleted-then-recreated', event: 'change' },
      { file: 'written-then-deleted', event: 'unlink' },
    ])
    batcher.stop()
  })

  it('hands a window over in chunks, letting other work run in between', async () => {
    const sink = new RecordingSink()
    const batcher = new ChangeBatcher({ windowMs: 60_000, maxPending: 1000 }, sink)
    for (let i = 0; i < 1000; i++) batcher.push(`f${i}`, 'change')
    sink.onFile = () => {
      sink.onFile = null
      setImmediate(() => sink.mark('other'))
    }
    await batcher.flush()
    const mark = sink.calls.findIndex((c) => c.kind === 'mark')
    expect(mark).toBeGreaterThan(0)
    expect(mark).toBeLessThan(1000)
    batcher.stop()
  })

  it('keeps going when the sink refuses one change', async () => {
    const errors: unknown[] = []
    const sink = new RecordingSink()
    const refusing: ChangeSink = {
      fileChanged: (file, e) => {
        if (file === 'bad') throw new Error('refused')
        sink.fileChanged(file, e)
      },
      overflow: (n) => sink.overflow(n),
    }
    const batcher = new ChangeBatcher({ windowMs: 60_000, maxPending: 10, onError: (e) => errors.push(e) }, refusing)
    batcher.push('bad', 'add')
    batcher.push('good', 'add')
    await batcher.flush()
    expect(sink.files).toEqual([{ file: 'good', event: 'add' }])
    expect(errors).toHaveLength(1)
    batcher.stop()
  })
})

describe('ignore patterns', () => {
  it('match segments without a slash, paths from the root with one', () => {
    const ignored = compileIgnore(['dist', '*.log', 'build/out', 'docs/**/*.tmp'])
    for (const p of ['.git/HEAD', 'a/node_modules/x.js', 'dist', 'pkg/dist/a.js', 'x/debug.log', 'build/out/a.o', 'docs/a/b/c.tmp', 'docs/c.tmp'])
      expect(ignored(p), p).toBe(true)
    for (const p of ['src/main.ts', 'distance.txt', 'log', 'src/build/out/a.o', 'build/outer', 'docs/c.tmpx', '.gitignore'])
      expect(ignored(p), p).toBe(false)
  })
})
