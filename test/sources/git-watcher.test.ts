import { execFileSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { GitWatcherSource } from '../../src/sources/git-watcher.js'
import { RecordingSink } from '../helpers/recording-sink.js'

describe('git watcher source', () => {
  let root: string
  let sink: RecordingSink
  let source: GitWatcherSource | null = null
  // The real git CLI in a temporary repository, isolated from the machine's git configuration.
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: root, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: root } }).trim()

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'roomcast-git-'))
    sink = new RecordingSink()
    git('init', '-q', '-b', 'main')
    git('config', 'user.name', 'Roomcast Test')
    git('config', 'user.email', 'test@roomcast.invalid')
    await writeFile(join(root, 'a.txt'), 'one')
    git('add', 'a.txt')
    git('commit', '-q', '-m', 'first')
  })
  afterEach(async () => {
    await source?.stop()
    source = null
    await rm(root, { recursive: true, force: true })
  })

  async function start(): Promise<GitWatcherSource> {
    source = new GitWatcherSource({ root, debounceMs: 30 }, sink)
    await source.setup()
    await source.start()
    return source
  }

  it('reports a commit on a branch packed away by git gc, then a detached HEAD', async () => {
    git('pack-refs', '--all')
    await start()
    git('commit', '-q', '--allow-empty', '-m', 'after pack')
    await sink.until(() => sink.git.length === 1, 'commit event')
    const first = git('rev-parse', 'HEAD~1')
    git('checkout', '-q', '--detach', first)
    await sink.until(() => sink.git.length === 2, 'detach event')
    expect(sink.git.map((g) => [g.type, g.branch, g.commit])).toEqual([
      ['commit', 'main', git('rev-parse', 'main')],
      ['branch', null, first],
    ])
  })

  it('stays off without a repository at the root', async () => {
    await rm(join(root, '.git'), { recursive: true })
    const s = await start()
    expect(s.active).toBe(false)
  })
})
