import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { once } from 'node:events'
import { join } from 'node:path'
import { afterEach } from 'vitest'
import { ROOT } from './supervisor.js'

const BIN = join(ROOT, 'bin/roomcast.js')

/**
 * Test timeout of tests that start roomcast processes: one start takes 1–8 s on a busy 2-core
 * machine (measured under a parallel CI run), and a test may start four and run status twice.
 */
export const PROCESS_TEST_TIMEOUT = 90_000

/** A `roomcast` process started from the built CLI, its output collected as it arrives. */
export class CliProcess {
  readonly proc: ChildProcess
  stdout = ''
  stderr = ''
  /** Resolves with the exit code (or the signal name) once the process has ended. */
  readonly exited: Promise<number | string>
  readonly #watchers: { test: () => boolean; resolve: () => void }[] = []

  constructor(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
    this.proc = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    const feed = (which: 'stdout' | 'stderr') => (chunk: Buffer) => {
      this[which] += chunk.toString()
      for (const w of this.#watchers.splice(0)) if (w.test()) w.resolve()
      else this.#watchers.push(w)
    }
    this.proc.stdout!.on('data', feed('stdout'))
    this.proc.stderr!.on('data', feed('stderr'))
    this.exited = once(this.proc, 'close').then(([code, signal]) => (code as number | null) ?? (signal as string))
  }

  /** Waits until the output matches `pattern`; fails with the output so far if the process ends first. */
  async waitFor(pattern: RegExp): Promise<RegExpMatchArray> {
    const output = () => this.stdout + this.stderr
    const found = () => output().match(pattern)
    if (found() === null) {
      const seen = new Promise<void>((resolve) => this.#watchers.push({ test: () => found() !== null, resolve }))
      const ended = this.exited.then((code) => {
        throw new Error(`roomcast exited (${code}) before printing ${pattern}:\n${output()}`)
      })
      await Promise.race([seen, ended])
    }
    return found()!
  }

  /** The JSON log lines (pino) printed so far. */
  logs(): Record<string, unknown>[] {
    return this.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
  }

  /** Waits for the `listening` log line of `service` and returns its port. */
  async port(service: string): Promise<number> {
    const m = await this.waitFor(new RegExp(`"service":"${service}"[^\\n]*"port":(\\d+)[^\\n]*"msg":"listening"`))
    return Number(m[1])
  }

  /** Sends a signal; the returned promise is the exit code. */
  signal(sig: NodeJS.Signals): Promise<number | string> {
    this.proc.kill(sig)
    return this.exited
  }

  /** Kills the process if it is still running (test cleanup). */
  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGKILL')
      await this.exited
    }
  }
}

/** Runs `roomcast <args>` to its end; resolves with exit code and output. */
export async function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | string; stdout: string; stderr: string }> {
  // `status` waits 5 s for an answer by default; a service on a host at load 30 took longer (a
  // fresh-clone run read "unreachable" from a live one). A test that means a short wait says so.
  const p = new CliProcess(args[0] === 'status' && !args.includes('--timeout') ? [...args, '--timeout', '60'] : args, env)
  const code = await p.exited
  return { code, stdout: p.stdout, stderr: p.stderr }
}

/** A temporary folder of settings files: `write(name, YAML)` → its path. */
export function settingsWriter(prefix: string): { dir: string; write: (name: string, text: string) => string } {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  const write = (name: string, text: string) => {
    const file = join(dir, name)
    writeFileSync(file, text)
    return file
  }
  return { dir, write }
}

/** Starts CLI processes for the tests of the calling describe block and stops them all after each test. */
export function cliProcesses(): (args: string[], env?: NodeJS.ProcessEnv) => CliProcess {
  const procs: CliProcess[] = []
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.stop()))
  })
  return (args, env = {}) => {
    const p = new CliProcess(args, env)
    procs.push(p)
    return p
  }
}
