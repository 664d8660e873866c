import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { connect, createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { afterEach, describe, expect, it, onTestFinished } from 'vitest'
import { CliProcess, PROCESS_TEST_TIMEOUT } from '../helpers/cli.js'
import { TestRedisCluster } from '../helpers/redis-cluster.js'
import { freeServicePorts, ROOT } from '../helpers/supervisor.js'

/** A command run the way a user types it: through a shell in the repository, output collected. */
class ShellCommand {
  readonly proc: ChildProcess
  output = ''
  readonly closed: Promise<unknown>
  readonly #watchers: (() => void)[] = []

  constructor(file: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    this.proc = spawn(file, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    const feed = (chunk: Buffer) => {
      this.output += chunk.toString()
      for (const w of this.#watchers.splice(0)) w()
    }
    this.proc.stdout!.on('data', feed)
    this.proc.stderr!.on('data', feed)
    // 'close' comes once every holder of the output pipes has exited: the server included.
    this.closed = once(this.proc, 'close')
  }

  async waitFor(pattern: RegExp, count = 1): Promise<RegExpMatchArray[]> {
    const found = () => [...this.output.matchAll(new RegExp(pattern.source, 'g'))]
    while (found().length < count) {
      const more = new Promise<void>((resolve) => this.#watchers.push(resolve))
      const ended = this.closed.then(() => {
        throw new Error(`ended before printing ${pattern} ×${count}:\n${this.output}`)
      })
      await Promise.race([more, ended])
    }
    return found()
  }
}

function portRefuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock: Socket = connect(port, '127.0.0.1')
    sock.once('connect', () => (sock.destroy(), resolve(false)))
    sock.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'))
  })
}

const listening = /"port":(\d+),[^\n]*"msg":"listening"/

describe('every command the README shows stops when its PID is killed', { timeout: PROCESS_TEST_TIMEOUT }, () => {
  const started: ShellCommand[] = []
  afterEach(() => {
    for (const c of started.splice(0)) if (c.proc.exitCode === null) c.proc.kill('SIGKILL')
  })

  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const backgrounded = readme.split('\n').filter((l) => /roomcast(\.js)? serve .*&\s*$/.test(l))

  it('the README shows backgrounded serve commands, none through npx', () => {
    expect(backgrounded.length).toBeGreaterThan(0)
    // In a clone the README calls node bin/roomcast.js; npx is right only for an installed package.
    const inClone = readme.replace(/^## As a package\n[\s\S]*?(?=^## )/m, '')
    expect(inClone).toContain('node bin/roomcast.js serve')
    expect(inClone).not.toMatch(/^[^`\n]*npx roomcast (serve|status|mcp|token)/m)
  })

  it.each(backgrounded)('%s — kill $! frees the port', async (line) => {
    const [port, nowhere] = (await freeServicePorts(2)) as [number, number]
    // The README's own line, on a free port, with a Redis that refuses (the instance runs standalone);
    // a Redis Cluster line gets a real cluster (a node list that is not a cluster stops the boot).
    let command = line.replace(/--port \d+/, `--port ${port}`).replace(/redis:\/\/127\.0\.0\.1:6379/, `redis://127.0.0.1:${nowhere}`)
    if (/REDIS_CLUSTER_NODES=\S+/.test(command)) {
      const cluster = await TestRedisCluster.start()
      onTestFinished(() => cluster.stop())
      command = command.replace(/REDIS_CLUSTER_NODES=\S+/, `REDIS_CLUSTER_NODES=${cluster.addresses.slice(0, 2).join(',')}`)
    }
    const sh = new ShellCommand('bash', ['-c', `${command}\necho "PID=$!"\nwait`])
    started.push(sh)
    const [pid] = await sh.waitFor(/PID=(\d+)/)
    expect(Number((await sh.waitFor(listening))[0]![1])).toBe(port)
    process.kill(Number(pid![1]), 'SIGTERM')
    await sh.closed
    expect(sh.output).toContain('"msg":"drained"')
    expect(await portRefuses(port)).toBe(true)
  })

  it('npm start — killing npm\'s PID stops the server too (it notices npm is gone) and frees every port', async () => {
    const env: NodeJS.ProcessEnv = {}
    const ports = await freeServicePorts(4)
    ;['tests', 'session', 'workflow', 'patterns'].forEach((n, i) => (env[`ROOMCAST_${n.toUpperCase()}_PORT`] = String(ports[i])))
    const npm = new ShellCommand('npm', ['start'], env)
    started.push(npm)
    await npm.waitFor(listening, 4)
    npm.proc.kill('SIGTERM')
    await npm.closed
    expect(npm.output).toContain('"reason":"parent process (npm) exited","msg":"shutting down"')
    for (const port of ports) expect(await portRefuses(port)).toBe(true)
  })
})

describe('signals while starting', { timeout: PROCESS_TEST_TIMEOUT }, () => {
  const procs: CliProcess[] = []
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.stop()))
  })

  it('a SIGTERM while serve all is still starting stops gracefully: no further service starts, exit 0', async () => {
    // A Redis that accepts and never answers holds each service's start for the broker's start timeout.
    const held: Socket[] = []
    const mute = createServer((s) => held.push(s))
    mute.listen(0, '127.0.0.1')
    await once(mute, 'listening')
    const env: NodeJS.ProcessEnv = { REDIS_URL: `redis://127.0.0.1:${(mute.address() as { port: number }).port}` }
    for (const n of ['tests', 'session', 'workflow', 'patterns']) env[`ROOMCAST_${n.toUpperCase()}_PORT`] = '0'
    const p = new CliProcess(['serve', 'all'], env)
    procs.push(p)
    await p.port('tests')
    // session is now waiting for Redis.
    expect(await p.signal('SIGTERM')).toBe(0)
    for (const s of held) s.destroy()
    mute.close()
    const lines = p.logs()
    expect(lines.filter((l) => l.msg === 'listening').map((l) => l.service)).not.toContain('workflow')
    expect(lines.map((l) => l.msg)).toContain('shutting down')
  })
})

describe('logs on a terminal', { timeout: PROCESS_TEST_TIMEOUT }, () => {
  it('are readable lines when stdout is a TTY (script(1) gives it one), JSON with LOG_FORMAT=json', async () => {
    const run = async (env: NodeJS.ProcessEnv) => {
      const tty = new ShellCommand('script', ['-qefc', 'node bin/roomcast.js serve tests --port 0 & echo "PID=$!"; wait', '/dev/null'], env)
      const [pid] = await tty.waitFor(/PID=(\d+)/)
      await tty.waitFor(/listening/)
      process.kill(Number(pid![1]), 'SIGTERM')
      await tty.closed
      return tty.output
    }
    expect(await run({})).toMatch(/\[\d\d:\d\d:\d\d\.\d{3}\] \S*INFO\S*: \S*tests: listening/)
    expect(await run({ LOG_FORMAT: 'json' })).toMatch(/^\{"level":30,[^\n]*"msg":"listening"/m)
  })
})
