import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { CliProcess, runCli } from '../helpers/cli.js'
import { TestClient } from '../helpers/client.js'

describe('roomcast serve workspace --root DIR', () => {
  const procs: CliProcess[] = []
  const dirs: string[] = []
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.stop()))
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
  })

  it('watches the directory given on the command line', async () => {
    const root = await mkdtemp(join(tmpdir(), 'roomcast-cli-ws-'))
    dirs.push(root)
    const p = new CliProcess(['serve', 'workspace', '--port', '0', '--root', root], { ROOMCAST_WORKSPACE_PORT: '', ROOMCAST_SETTINGS_DIR: root })
    procs.push(p)
    const port = await p.port('workspace')
    await p.waitFor(/"msg":"watching"/)
    const c = await TestClient.connect(`ws://127.0.0.1:${port}/ws`, { welcome: false })
    await c.next((f) => f.type === 'connected')
    c.send({ type: 'subscribe', channel: 'files', id: 's1' })
    await c.next((f) => f.id === 's1')
    await writeFile(join(root, 'hello.txt'), 'hi')
    expect(await c.next((f) => f.type === 'event', 10_000)).toMatchObject({ channel: 'files', event: 'file.changed', data: { file: 'hello.txt', event: 'add' } })
    await c.close()
    expect(await p.signal('SIGTERM')).toBe(0)
  })

  it('refuses a root that does not exist, naming it, and --root for another service', async () => {
    const missing = join(tmpdir(), `roomcast-missing-${process.pid}`)
    const r = await runCli(['serve', 'workspace', '--port', '0', '--root', missing])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`${missing}: does not exist`)
    const other = await runCli(['serve', 'workflow', '--root', '.'])
    expect(other.code).toBe(2)
    expect(other.stderr).toContain('--root applies to the workspace service')
  })
})
