import { execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { appendFile, mkdir, mkdtemp, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { WorkspaceServer } from '../../services/workspace/index.js'
import { type Frame, TestClient } from '../helpers/client.js'
import { startService, type Started } from '../helpers/server.js'

let base: string
let root: string
let s: Started<WorkspaceServer> | null = null
const clients: TestClient[] = []

// The real git CLI in the temporary repository, isolated from the machine's git configuration.
const git = (...args: string[]) =>
  execFileSync('git', args, { cwd: root, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: base } }).trim()

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'roomcast-workspace-'))
  root = join(base, 'root')
  await mkdir(root)
})
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await s?.server.close()
  s = null
  await rm(base, { recursive: true, force: true })
})

async function start(workspace: Record<string, unknown> = {}): Promise<WorkspaceServer> {
  s = await startService<WorkspaceServer>('workspace', { workspace: { root, debounce: 0.02, ...workspace } })
  return s.server
}

/** A flat client subscribed to `channels`. */
async function subscriber(...channels: string[]): Promise<TestClient> {
  const c = await TestClient.connect(s!.url, { welcome: false })
  clients.push(c)
  await c.next((f) => f.type === 'connected')
  for (const channel of channels) {
    c.send({ type: 'subscribe', channel, id: `sub-${channel}` })
    expect(await c.next((f) => f.id === `sub-${channel}`)).toMatchObject({ type: 'ack', success: true })
  }
  return c
}

const fileEvent = (c: TestClient, file: string, event: string) =>
  c.next((f) => f.type === 'event' && f.event === 'file.changed' && f.data?.file === file && f.data.event === event, 10_000)

/** Every files-channel event received so far and still queued, as file names. */
function queuedFiles(c: TestClient): string[] {
  return c.pending.filter((f) => f.channel === 'files').map((f) => String(f.data?.file))
}

describe('workspace sources on the service', () => {
  it('touching, writing and deleting files reach a files subscriber with the event and the relative path', async () => {
    await mkdir(join(root, 'src'))
    await start()
    const c = await subscriber('files')
    await writeFile(join(root, 'a.txt'), 'one')
    const added = await fileEvent(c, 'a.txt', 'add')
    expect(added).toMatchObject({ type: 'event', channel: 'files', data: { file: 'a.txt', event: 'add', timestamp: expect.any(String) } })
    await appendFile(join(root, 'a.txt'), ' two')
    await fileEvent(c, 'a.txt', 'change')
    await unlink(join(root, 'a.txt'))
    await fileEvent(c, 'a.txt', 'unlink')
    await writeFile(join(root, 'src', 'main.ts'), 'x')
    await fileEvent(c, 'src/main.ts', 'add')
    // One more `change` of a.txt is allowed (docs/workspace.md: a file may be reported one extra time).
    const extra = c.pending.filter((f) => f.channel === 'files' && !(f.data?.file === 'a.txt' && f.data.event === 'change'))
    expect(extra).toEqual([])
  })

  it('skips .git/, node_modules/ and the ignore list, and never follows a symlink to outside the root', async () => {
    const outside = join(base, 'outside')
    await mkdir(outside)
    for (const dir of ['.git', 'node_modules', 'dist']) await mkdir(join(root, dir))
    await writeFile(join(outside, 'secret.txt'), 'secret')
    await symlink(outside, join(root, 'out-dir'))
    await start({ ignore: ['dist', '*.log'] })
    const c = await subscriber('files')
    for (const f of ['.git/x', 'node_modules/x.js', 'dist/app.js', 'debug.log']) await writeFile(join(root, f), 'x')
    await symlink(join(outside, 'secret.txt'), join(root, 'out-file'))
    await writeFile(join(outside, 'secret.txt'), 'changed')
    await writeFile(join(outside, 'new.txt'), 'new')
    await writeFile(join(root, 'target.txt'), 'in')
    await symlink(join(root, 'target.txt'), join(root, 'in-link'))
    await fileEvent(c, 'in-link', 'add')
    // Written last, into the root itself: once it is here, the writes before it have been seen.
    await writeFile(join(root, 'sentinel.txt'), 'x')
    await fileEvent(c, 'sentinel.txt', 'add')
    await fileEvent(c, 'target.txt', 'add')
    expect(queuedFiles(c)).toEqual([])
  })

  it('a commit and a branch switch reach a git subscriber', async () => {
    git('init', '-q', '-b', 'main')
    git('config', 'user.name', 'Roomcast Test')
    git('config', 'user.email', 'test@roomcast.invalid')
    await writeFile(join(root, 'a.txt'), 'one')
    git('add', 'a.txt')
    git('commit', '-q', '-m', 'first')
    await start()
    const c = await subscriber('git')
    await writeFile(join(root, 'a.txt'), 'two')
    git('commit', '-q', '-am', 'second change')
    const commit = await c.next((f) => f.channel === 'git', 10_000)
    expect(commit).toMatchObject({
      type: 'event',
      event: 'git.event',
      data: { type: 'commit', message: 'commit: second change', branch: 'main', commit: git('rev-parse', 'HEAD') },
    })
    git('checkout', '-q', '-b', 'feature')
    const branch = await c.next((f) => f.channel === 'git', 10_000)
    expect(branch.data).toMatchObject({ type: 'branch', message: 'checkout: moving from main to feature', branch: 'feature' })
  })

  it('HEAD pointing outside the git directory (issue 18: ref: ../../outside-secret.txt) delivers nothing to a git subscriber', async () => {
    git('init', '-q', '-b', 'main')
    git('config', 'user.name', 'Roomcast Test')
    git('config', 'user.email', 'test@roomcast.invalid')
    git('commit', '-q', '--allow-empty', '-m', 'first')
    await writeFile(join(base, 'outside-secret.txt'), 'the secret\n')
    const server = await start()
    const c = await subscriber('git')
    const head = join(root, '.git', 'HEAD')
    // Whichever comes first: the source's refusal, or (unfixed) the file published as a commit.
    const outcome = Promise.race([
      c.next((f) => f.channel === 'git' && JSON.stringify(f.data).includes('secret'), 10_000).then((f) => f.data),
      once(server.git!, 'refused').then(() => 'refused'),
    ])
    await writeFile(`${head}.tmp`, 'ref: ../../outside-secret.txt\n')
    await rename(`${head}.tmp`, head)
    expect(await outcome).toBe('refused')
    await writeFile(`${head}.tmp`, 'ref: refs/heads/main\n')
    await rename(`${head}.tmp`, head)
    git('commit', '-q', '--allow-empty', '-m', 'after repair')
    // The first git frame the subscriber gets is the commit after the repair.
    const next = await c.next((f) => f.channel === 'git', 10_000)
    expect(next.data).toMatchObject({ type: 'commit', branch: 'main', commit: git('rev-parse', 'HEAD') })
    expect(c.raw.filter((r) => r.includes('the secret'))).toEqual([])
  })

  it('a burst of 10,000 new files is coalesced and bounded, and another channel still gets through', async () => {
    const staged = join(base, 'staged')
    await mkdir(staged)
    execFileSync('sh', ['-c', 'seq 0 9999 | sed s/^/f/ | xargs touch'], { cwd: staged })
    await start({ max_pending: 500, debounce: 0.1 })
    const c = await subscriber('files', 'diagnostics')
    await rename(staged, join(root, 'big'))
    const order: Frame[] = []
    let files = 0
    let dropped = 0
    let diagnosticsSent = false
    while (files + dropped < 10_000) {
      const ev = await c.next((f) => f.type === 'event', 30_000)
      order.push(ev)
      if (ev.event === 'file.changed') files++
      if (ev.event === 'files.overflow') dropped += ev.data!.dropped as number
      if (!diagnosticsSent) {
        // From outside, over HTTP: it is handled while the burst is still being published.
        diagnosticsSent = true
        void fetch(`${s!.http}/publish`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ channel: 'diagnostics', event: 'diagnostics.updated', data: { diagnostics: [{ file: 'big/f0', message: 'mid-burst' }] } }),
        })
      }
    }
    expect(dropped).toBeGreaterThan(0)
    expect(files).toBeLessThan(10_000)
    const diag = order.findIndex((f) => f.event === 'diagnostics.updated')
    expect(diag).toBeGreaterThan(0)
    expect(diag).toBeLessThan(order.length - 1)
  }, 60_000)

  it('refuses to start on a root that does not exist or is not a directory, naming it; without a root the sources are off', async () => {
    const missing = join(base, 'missing')
    await expect(startService('workspace', { workspace: { root: missing } })).rejects.toThrow(`${missing}: does not exist`)
    await writeFile(join(base, 'plain-file'), 'x')
    await expect(startService('workspace', { workspace: { root: join(base, 'plain-file') } })).rejects.toThrow('plain-file: is not a directory')
    s = await startService<WorkspaceServer>('workspace')
    expect(s.server.files).toBeNull()
    expect(s.server.git).toBeNull()
  })
})
