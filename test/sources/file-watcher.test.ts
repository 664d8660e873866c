import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { FileChange } from '../../src/sources/change-batcher.js'
import { FileWatcherSource } from '../../src/sources/file-watcher.js'

let root: string
let source: FileWatcherSource | null = null

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'roomcast-file-watcher-'))
})
afterEach(async () => {
  await source?.stop()
  source = null
  await rm(root, { recursive: true, force: true })
})

/** A started source whose every report is handed to `onChange`, as soon as it leaves the batcher. */
async function watching(onChange: (file: string, event: FileChange) => void): Promise<void> {
  source = new FileWatcherSource({ root, debounceMs: 0, maxPending: 100 }, { fileChanged: onChange, overflow: () => {} })
  await source.setup()
  await source.start()
}

describe('FileWatcherSource', () => {
  it('a file written again right after a reported change is reported again: a reader ends with the last content', async () => {
    // chokidar drops a change within 50 ms of the one it reported: the second write went unannounced.
    const file = join(root, 'a.txt')
    const reads: string[] = []
    let added!: () => void
    const addSeen = new Promise<void>((resolve) => (added = resolve))
    let last!: () => void
    const lastRead = new Promise<void>((resolve) => (last = resolve))
    let appended = false
    await watching((name, event) => {
      if (name !== 'a.txt') return
      if (event === 'add') return added()
      // What a subscriber does on file.changed: read the file. After its first read, the writer writes again.
      void readFile(file, 'utf8').then(async (text) => {
        reads.push(text)
        if (text === 'one two') last()
        if (!appended) {
          appended = true
          await appendFile(file, ' two')
        }
      })
    })
    await writeFile(file, '')
    await addSeen
    await appendFile(file, 'one')
    await lastRead
    expect(reads.at(-1)).toBe('one two')
  })
})
