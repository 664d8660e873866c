import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { GitWatcherSource } from '../../src/sources/git-watcher.js'
import { RecordingSink } from '../helpers/recording-sink.js'

// Issue 18, finding 2: whatever sits in .git, the git source publishes git's own data or nothing.
const SECRET = 'outside secret: do not publish'
// A secret shaped like an object id: only the confinement to the git directory keeps it out.
const SHA_SECRET = 'c0ffee'.repeat(6) + 'c0ff'

let base: string
let root: string
let sink: RecordingSink
let source: GitWatcherSource | null = null
let refusals: string[] = []
let logs: string[] = []

const gitIn = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: base } }).trim()
const git = (...args: string[]) => gitIn(root, ...args)

/** Replaces a file the way git does (write aside, rename over), so the watcher never reads it half written. */
async function replace(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text)
  await rename(`${path}.tmp`, path)
}

async function initRepo(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true })
  gitIn(dir, 'init', '-q', '-b', 'main')
  gitIn(dir, 'config', 'user.name', 'Roomcast Test')
  gitIn(dir, 'config', 'user.email', 'test@roomcast.invalid')
  gitIn(dir, 'commit', '-q', '--allow-empty', '-m', 'first')
}

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'roomcast-gitref-'))
  root = join(base, 'root')
  sink = new RecordingSink()
  refusals = []
  logs = []
  await writeFile(join(base, 'outside-secret.txt'), `${SECRET}\n`)
})
afterEach(async () => {
  await source?.stop()
  source = null
  await rm(base, { recursive: true, force: true })
})

async function start(dir = root): Promise<GitWatcherSource> {
  const stream = new Writable({ write: (chunk: Buffer, _enc, done) => (logs.push(chunk.toString()), done()) })
  source = new GitWatcherSource({ root: dir, debounceMs: 30, logger: pino({ level: 'warn' }, stream) }, sink)
  source.on('refused', (reason: string) => refusals.push(reason))
  await source.setup()
  await source.start()
  return source
}

/** Waits for the source's answer to a change: a git event or a refusal, whichever comes first. */
async function answer(): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const done = () => (clearTimeout(timer), source?.off('refused', done), resolve())
    const timer = setTimeout(() => reject(new Error(`no git event and no refusal within 10 s; recorded ${JSON.stringify(sink.calls)}`)), 10_000)
    source?.on('refused', done)
    void sink.until(() => sink.git.length > 0, 'a git event').then(done, () => {})
  })
}

function expectRefusedSilently(): void {
  expect(sink.git).toEqual([])
  expect(refusals).toHaveLength(1)
  for (const text of [...refusals, ...logs]) {
    expect(text).not.toContain(SECRET)
    expect(text).not.toContain(SHA_SECRET)
  }
}

describe('git source: refs confined to the git directory and to ref-name and object-id syntax', () => {
  beforeEach(() => initRepo(root))

  it('the attack of issue 18 (HEAD → ref: ../../outside-secret.txt) publishes nothing, is logged once, and the source recovers', async () => {
    await start()
    const good = git('rev-parse', 'HEAD')
    await replace(join(root, '.git', 'HEAD'), 'ref: ../../outside-secret.txt\n')
    await answer()
    expectRefusedSilently()
    // Another change while HEAD is still bad: refused again, not logged again.
    await replace(join(root, '.git', 'refs', 'heads', 'other'), `${good}\n`)
    await replace(join(root, '.git', 'HEAD'), 'ref: refs/heads/main\n')
    git('commit', '-q', '--allow-empty', '-m', 'after repair')
    await sink.until(() => sink.git.length === 1, 'the commit after the repair')
    expect(sink.git.map((g) => [g.type, g.branch, g.commit])).toEqual([['commit', 'main', git('rev-parse', 'HEAD')]])
    expect(logs.filter((l) => l.includes('git state refused'))).toHaveLength(1)
  })

  it('a ref that is a symlink to a file outside the git directory publishes nothing, even when it holds an object id', async () => {
    await writeFile(join(base, 'sha-secret'), `${SHA_SECRET}\n`)
    await symlink(join(base, 'sha-secret'), join(root, '.git', 'refs', 'heads', 'evil'))
    await start()
    await replace(join(root, '.git', 'HEAD'), 'ref: refs/heads/evil\n')
    await answer()
    expectRefusedSilently()
    expect(refusals[0]).toContain('outside the git directory')
  })

  it('ref: refs/heads/../../x publishes nothing', async () => {
    await writeFile(join(root, '.git', 'x'), `${SECRET}\n`)
    await start()
    await replace(join(root, '.git', 'HEAD'), 'ref: refs/heads/../../x\n')
    await answer()
    expectRefusedSilently()
  })

  it('an absolute path after ref: publishes nothing', async () => {
    await start()
    await replace(join(root, '.git', 'HEAD'), `ref: ${join(base, 'outside-secret.txt')}\n`)
    await answer()
    expectRefusedSilently()
  })

  it('HEAD holding text that is neither an object id nor a ref publishes nothing', async () => {
    await start()
    await replace(join(root, '.git', 'HEAD'), `${SECRET}\n`)
    await answer()
    expectRefusedSilently()
  })

  it('a branch file holding text that is not an object id publishes nothing', async () => {
    await start()
    await replace(join(root, '.git', 'refs', 'heads', 'main'), `${SECRET}\n`)
    await answer()
    expectRefusedSilently()
  })

  it('a ref that is a FIFO is refused instead of blocking the source', async () => {
    execFileSync('mkfifo', [join(root, '.git', 'refs', 'heads', 'pipe')])
    await start()
    await replace(join(root, '.git', 'HEAD'), 'ref: refs/heads/pipe\n')
    await answer()
    expectRefusedSilently()
    expect(refusals[0]).toContain('not a regular file')
  })

  it('a detached HEAD and a branch in packed-refs still work', async () => {
    git('pack-refs', '--all')
    await start()
    const first = git('rev-parse', 'HEAD')
    git('checkout', '-q', '--detach', first)
    await sink.until(() => sink.git.length === 1, 'detach event')
    git('checkout', '-q', 'main')
    await sink.until(() => sink.git.length === 2, 'checkout event')
    git('commit', '-q', '--allow-empty', '-m', 'second')
    await sink.until(() => sink.git.length === 3, 'commit event')
    expect(sink.git.map((g) => [g.type, g.branch, g.commit])).toEqual([
      ['branch', null, first],
      ['branch', 'main', first],
      ['commit', 'main', git('rev-parse', 'HEAD')],
    ])
    expect(refusals).toEqual([])
  })
})

describe('git source: what a .git file may point at', () => {
  it('a gitdir: to a directory that is not a git directory is refused and the source stays off', async () => {
    await mkdir(root)
    await mkdir(join(base, 'notgit'))
    await writeFile(join(base, 'notgit', 'HEAD'), `${SECRET}\n`)
    await writeFile(join(root, '.git'), 'gitdir: ../notgit\n')
    const s = await start()
    expect(s.active).toBe(false)
    expectRefusedSilently()
  })

  it('a gitdir: to the worktree entry of another work tree is refused', async () => {
    const main = join(base, 'main')
    await initRepo(main)
    gitIn(main, 'worktree', 'add', '-q', '-b', 'feature', join(base, 'wt'))
    await mkdir(root)
    await writeFile(join(root, '.git'), `gitdir: ${join(main, '.git', 'worktrees', 'wt')}\n`)
    const s = await start()
    expect(s.active).toBe(false)
    expectRefusedSilently()
  })

  it('a real git worktree is followed: a commit there reports its branch and commit', async () => {
    const main = join(base, 'main')
    await initRepo(main)
    const wt = join(base, 'wt')
    gitIn(main, 'worktree', 'add', '-q', '-b', 'feature', wt)
    const s = await start(wt)
    expect(s.active).toBe(true)
    gitIn(wt, 'commit', '-q', '--allow-empty', '-m', 'in the worktree')
    await sink.until(() => sink.git.length === 1, 'commit in the worktree')
    expect(sink.git.map((g) => [g.type, g.message, g.branch, g.commit])).toEqual([['commit', 'commit: in the worktree', 'feature', gitIn(wt, 'rev-parse', 'HEAD')]])
    expect(refusals).toEqual([])
  })

  it('a repository made with --separate-git-dir is followed', async () => {
    await mkdir(base, { recursive: true })
    gitIn(base, 'init', '-q', '-b', 'main', '--separate-git-dir', join(base, 'repo.git'), root)
    git('config', 'user.name', 'Roomcast Test')
    git('config', 'user.email', 'test@roomcast.invalid')
    git('commit', '-q', '--allow-empty', '-m', 'first')
    await start()
    git('commit', '-q', '--allow-empty', '-m', 'second')
    await sink.until(() => sink.git.length === 1, 'commit event')
    expect(sink.git.map((g) => [g.type, g.branch, g.commit])).toEqual([['commit', 'main', git('rev-parse', 'HEAD')]])
  })
})
