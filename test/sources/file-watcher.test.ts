import { renameSync, symlinkSync } from 'node:fs'
import { appendFile, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
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
      // What a subscriber does on file.changed: read the file. Once it has read 'one', the writer
      // writes again (a change of the empty file, reported late, does not count).
      void readFile(file, 'utf8').then(async (text) => {
        reads.push(text)
        if (text === 'one two') last()
        if (!appended && text === 'one') {
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

  it('a file, or a directory on its way, swapped for a link to outside the root before its second look: nothing more is reported of it', async () => {
    // The root's sibling: what the workspace must say nothing about.
    const outside = await mkdtemp(join(tmpdir(), 'roomcast-file-watcher-outside-'))
    try {
      await writeFile(join(outside, 'a.txt'), 'a file outside the root')
      await writeFile(join(outside, 'b.txt'), 'another file outside the root')
      await mkdir(join(root, 'dir'))
      const reports: string[] = []
      let bothAdded!: () => void
      const added = new Promise<void>((resolve) => (bothAdded = resolve))
      await watching((name, event) => {
        reports.push(`${event} ${name}`)
        // Swapped as soon as reported, well before the second look (60 ms later): sync, in this very turn.
        if (event !== 'add') return
        if (name === 'dir/a.txt') {
          renameSync(join(root, 'dir'), join(root, 'was-dir'))
          symlinkSync(outside, join(root, 'dir'))
        } else if (name === 'b.txt') {
          symlinkSync(join(outside, 'b.txt'), join(root, 'b.link'))
          renameSync(join(root, 'b.link'), join(root, 'b.txt'))
        } else return
        if (reports.includes('add dir/a.txt') && reports.includes('add b.txt')) bothAdded()
      })
      // Moved in whole, written beforehand: one event each, an add. Written in place, a file's write
      // can come after its add as chokidar's own `change`, before the swap: a true report of a file
      // that was inside the root then (seen under load), not what this test pins.
      const staged = await mkdtemp(join(tmpdir(), 'roomcast-file-watcher-staged-'))
      await writeFile(join(staged, 'a.txt'), 'x')
      await writeFile(join(staged, 'b.txt'), 'y')
      await rename(join(staged, 'a.txt'), join(root, 'dir', 'a.txt'))
      await rename(join(staged, 'b.txt'), join(root, 'b.txt'))
      await rm(staged, { recursive: true, force: true })
      await added
      await source!.settled()
      // Before the fix the second look lstat'ed the file beyond the link (another inode): `change`
      // for both, and for dir/a.txt one more each time the file outside changed within 60 ms.
      // (chokidar may still tell the unlink of what was there: no `change` is what is pinned here.)
      expect(reports.filter((r) => r === 'change dir/a.txt' || r === 'change b.txt')).toEqual([])
    } finally {
      await rm(outside, { recursive: true, force: true })
    }
  })
})
