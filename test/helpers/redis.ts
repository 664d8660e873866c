import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './supervisor.js'

/**
 * A real redis-server for tests; can be killed and restarted on its port. No persistence, unless
 * `persistent`: then an append-only file fsynced on every write, in a temporary directory, so a
 * killed and restarted server keeps what it acknowledged (a production Redis with AOF).
 */
export class TestRedis {
  #proc: ChildProcess | null = null
  readonly port: number
  readonly #dir: string | null

  private constructor(port: number, persistent: boolean) {
    this.port = port
    this.#dir = persistent ? mkdtempSync(join(tmpdir(), 'roomcast-redis-')) : null
  }

  static async start(port?: number, opts: { persistent?: boolean } = {}): Promise<TestRedis> {
    for (let tries = 1; ; tries++) {
      const r = new TestRedis(port ?? (await freePort()), opts.persistent === true)
      try {
        await r.restart()
        return r
      } catch (err) {
        // A port picked here and taken meanwhile by another test's pick: pick again.
        if (port !== undefined || tries === 3 || !String(err).includes('Address already in use')) throw err
      }
    }
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  /** Starts redis-server on the same port; resolves when it accepts connections. */
  async restart(): Promise<void> {
    if (this.#proc !== null) throw new Error('redis-server is already running')
    const persistence = this.#dir === null ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', this.#dir]
    const proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', ...persistence], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.#proc = proc
    await untilReady(proc)
  }

  /** SIGSTOP (a hung Redis: connections are accepted, nothing is answered) or SIGCONT. */
  pause(paused: boolean): void {
    this.#proc?.kill(paused ? 'SIGSTOP' : 'SIGCONT')
  }

  /** Kills redis-server (SIGKILL, like a crash) and waits for it to be gone. */
  async kill(): Promise<void> {
    const proc = this.#proc
    if (proc === null) return
    this.#proc = null
    if (proc.exitCode !== null || proc.signalCode !== null) return
    const exited = once(proc, 'exit')
    proc.kill('SIGKILL')
    await exited
  }
}

/** Resolves once a spawned redis-server says it accepts connections; rejects if it exits first. */
export async function untilReady(proc: ChildProcess): Promise<void> {
  let out = ''
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString()
      if (out.includes('Ready to accept connections')) {
        proc.stdout?.off('data', onData)
        resolve()
      }
    }
    proc.stdout?.on('data', onData)
    proc.once('error', reject)
    proc.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before it was ready:\n${out}`)))
  })
  proc.stdout?.resume()
  proc.stderr?.resume()
}
