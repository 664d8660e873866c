import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT } from '../helpers/supervisor.js'

/**
 * The package as a user gets it: `npm pack` (its prepack builds dist/ when stale; the global
 * setup has just built it), `npm install` of the tarball into an empty project, then the CLI
 * and the three entry points from there. The whole file took 35–41 s on the shared 2-core host
 * in earlier runs (load not recorded) and 47 s at a load average of ~16 (install from the npm
 * cache, the registry only for what it lacks).
 */
const TIMEOUT = 300_000
const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc')

interface Ran {
  code: number
  stdout: string
  stderr: string
}

function run(cmd: string, args: readonly string[], cwd: string): Promise<Ran> {
  return new Promise((done) => {
    execFile(cmd, args, { cwd, timeout: TIMEOUT, env: { ...process.env, npm_config_update_notifier: 'false' } }, (err, stdout, stderr) => {
      done({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

describe('npm pack → npm install in an empty project', { timeout: TIMEOUT }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'roomcast-pack-'))
  const app = join(dir, 'app')
  let install: Ran
  let typeCheck: Promise<Ran>
  const write = (name: string, text: string) => writeFileSync(join(app, name), text)

  beforeAll(async () => {
    const packed = await run('npm', ['pack', '--json', '--pack-destination', dir], ROOT)
    expect(packed.code, packed.stderr).toBe(0)
    const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }]
    mkdirSync(app)
    write('package.json', JSON.stringify({ name: 'pack-probe', version: '1.0.0', private: true }))
    install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, filename)], app)
    expect(install.code, install.stderr).toBe(0)
    // The type check takes longest (~4 s a file): it runs while the other tests do.
    write('typed.mts', "import { RoomcastClient, type ClientOptions } from 'roomcast/client'\nimport { parseSettings } from 'roomcast'\nexport const port: number = parseSettings({}).port\nexport const make = (o: ClientOptions) => new RoomcastClient(o)\n")
    write('wrong.mts', "import { parseSettings } from 'roomcast'\nexport const port: string = parseSettings({}).port\n")
    typeCheck = run(process.execPath, [TSC, '--noEmit', '--strict', '--skipLibCheck', '--module', 'nodenext', '--target', 'es2022', 'typed.mts', 'wrong.mts'], app)
  }, TIMEOUT)

  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('installs on this Node without an engine warning (engines and every dependency agree)', () => {
    expect(install.stdout + install.stderr).not.toMatch(/EBADENGINE/)
  })

  it('npx roomcast --version', async () => {
    const r = await run('npx', ['--no-install', 'roomcast', '--version'], app)
    expect(r).toMatchObject({ code: 0, stdout: `roomcast ${version}\n` })
  })

  it('npx roomcast serve workflow listens, answers GET /health, and the CommonJS client subscribes', async () => {
    // Its own process group, so the cleanup stops npx and the server it started together.
    const proc: ChildProcess = spawn('npx', ['--no-install', 'roomcast', 'serve', 'workflow', '--port', '0'], { cwd: app, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    proc.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()))
    try {
      const listening = /"service":"workflow"[^\n]*"port":(\d+)[^\n]*"msg":"listening"/
      while (!listening.test(output)) {
        const [chunk] = (await Promise.race([once(proc.stdout!, 'data'), once(proc, 'close').then(() => [Buffer.from('')])])) as [Buffer]
        if (chunk.length === 0) throw new Error(`roomcast serve workflow ended before listening:\n${output}`)
        output += chunk.toString()
      }
      const port = Number(listening.exec(output)![1])
      const health = await fetch(`http://127.0.0.1:${port}/health`)
      expect(health.status).toBe(200)
      // The CommonJS client build, connecting through the `ws` the package brought along.
      write(
        'live.cjs',
        "const { RoomcastClient } = require('roomcast/client')\n" +
          "const client = new RoomcastClient({ url: process.argv[2], dialect: 'envelope' })\n" +
          "client.connect().then(() => client.subscribe('workflow:w1')).then((s) => { console.log(s.channel); client.close() })\n",
      )
      expect(await run(process.execPath, ['live.cjs', `ws://127.0.0.1:${port}/ws`], app)).toMatchObject({ code: 0, stdout: 'workflow:w1\n' })
    } finally {
      if (proc.exitCode === null && proc.signalCode === null) {
        const closed = once(proc, 'close')
        process.kill(-proc.pid!, 'SIGTERM')
        await closed
      }
    }
  })

  it("import from 'roomcast' and 'roomcast/client' (ESM), with types", async () => {
    write('esm.mjs', "import { RoomcastClient } from 'roomcast/client'\nimport { parseSettings } from 'roomcast'\nconsole.log(typeof RoomcastClient, parseSettings({ port: 1 }).port)\n")
    expect(await run(process.execPath, ['esm.mjs'], app)).toMatchObject({ code: 0, stdout: 'function 1\n' })

    // The types are the package's own, not `any`: typed.mts passes, the wrong type in wrong.mts is refused.
    const tsc = await typeCheck
    expect(tsc.stdout.trim().split('\n')).toEqual([expect.stringMatching(/^wrong\.mts\(2,14\): error TS2322: Type 'number' is not assignable to type 'string'\.$/)])
  })

  it("require('roomcast/client') from CommonJS, also on a Node without require(esm)", async () => {
    write('cjs.cjs', "const { RoomcastClient, RoomcastError } = require('roomcast/client')\nconsole.log(typeof RoomcastClient, typeof RoomcastError)\n")
    expect(await run(process.execPath, ['cjs.cjs'], app)).toMatchObject({ code: 0, stdout: 'function function\n' })
    expect(await run(process.execPath, ['--no-experimental-require-module', 'cjs.cjs'], app)).toMatchObject({ code: 0, stdout: 'function function\n' })
  })
})
