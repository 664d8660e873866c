import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import type { AddressInfo, Server } from 'node:net'
import { candidatePort as candidate, tryBind } from '../../bench/lib/ports.mjs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

export const ROOT = resolve(import.meta.dirname, '../..')

/**
 * Why the built CLI cannot be trusted to run the current sources (missing, or older than a
 * source file under src/ or services/), or null when it can.
 */
export function staleBuild(): string | null {
  const cli = join(ROOT, 'dist/src/cli.js')
  if (!existsSync(cli)) return 'dist/src/cli.js is missing: run npm run build'
  const built = statSync(cli).mtimeMs
  for (const dir of ['src', 'services']) {
    for (const file of readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })) {
      if (file.endsWith('.ts') && statSync(join(ROOT, dir, file)).mtimeMs > built) return `dist/ is older than ${dir}/${file}: run npm run build`
    }
  }
  return null
}

/** Result of running a command to its end. */
export interface RunResult {
  code: number
  stdout: string
  stderr: string
}

/** Runs a command with a time limit and resolves with its exit code and output (never rejects on exit code). */
export function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((done) => {
    execFile(cmd, args, { cwd: ROOT, timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1
      done({ code, stdout, stderr })
    })
  })
}

// Ports come from bench/lib/ports.mjs: outside the kernel's ephemeral range, so a port released and
// bound again later (a Redis restarted on its port) is not taken meanwhile by a client's source port.
const closeAll = (servers: Server[]) => Promise.all(servers.map((srv) => new Promise((done) => srv.close(done))))

/**
 * `n` ports for services that also listen on their MCP port (the ws port − 10): each port and its
 * MCP port were free a moment ago, and no two of the 2n overlap. Every candidate stays bound until
 * all are chosen, so the same port is not handed out twice (a fresh-clone run failed when one
 * service's ws port was another's MCP port).
 */
export async function freeServicePorts(n: number, mcpOffset = 10): Promise<number[]> {
  const held: Server[] = []
  const chosen: number[] = []
  try {
    for (let tries = 0; chosen.length < n; tries++) {
      if (tries > 200) throw new Error(`no ${n} free port pairs (port, port − ${mcpOffset}) found`)
      const srv = await tryBind(candidate())
      if (srv === null) continue
      held.push(srv)
      const port = (srv.address() as AddressInfo).port
      if (port - mcpOffset < 1024) continue
      const mcp = await tryBind(port - mcpOffset)
      if (mcp === null) continue
      held.push(mcp)
      chosen.push(port)
    }
    return chosen
  } finally {
    await closeAll(held)
  }
}

/** A port that was free a moment ago, outside the ephemeral range (bench/lib/ports.mjs). */
export { freePort } from '../../bench/lib/ports.mjs'

/**
 * Polls `check` every `everyMs` until it returns a value, or throws after `timeoutMs` with `what`
 * (and whatever `why` explains). A check that throws counts as "not yet"; `hopeless` ends the
 * wait early when what is awaited can no longer happen (e.g. the supervisor never started).
 */
export async function pollUntil<T>(
  what: string,
  check: () => Promise<T | undefined>,
  opts: { timeoutMs?: number; everyMs?: number; why?: () => string; hopeless?: () => boolean } = {},
): Promise<T> {
  const { timeoutMs = 30_000, everyMs = 200, why = () => '', hopeless = () => false } = opts
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check().catch(() => undefined)
    if (value !== undefined) return value
    if (hopeless()) throw new Error(`gave up waiting for ${what}${why()}`)
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why()}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

/**
 * supervisord running the repo's supervisord.conf in the foreground, with its logs, pid file
 * and socket moved to a temp folder and the services on the given ports.
 */
export class Supervisor {
  readonly dir = mkdtempSync(join(tmpdir(), 'roomcast-sv-'))
  readonly conf = join(this.dir, 'supervisord.conf')
  readonly #proc: ChildProcess
  readonly #exited: Promise<void>
  #failure: string | null = null

  constructor(ports: Readonly<Record<string, number>>) {
    const text = readFileSync(join(ROOT, 'supervisord.conf'), 'utf8').replaceAll('%(here)s/logs', this.dir).replaceAll('%(here)s', ROOT)
    writeFileSync(this.conf, text)
    const env: NodeJS.ProcessEnv = { ...process.env }
    for (const [name, port] of Object.entries(ports)) env[`ROOMCAST_${name.toUpperCase()}_PORT`] = String(port)
    this.#proc = spawn('supervisord', ['-n', '-c', this.conf], { cwd: ROOT, env, stdio: 'ignore' })
    // A missing binary or a rejected config ends supervisord at once: say so instead of timing out blindly.
    this.#exited = new Promise((done) => {
      this.#proc.once('error', (err) => {
        this.#failure = `cannot start supervisord: ${err.message}`
        done()
      })
      this.#proc.once('exit', (code, signal) => {
        this.#failure ??= `supervisord exited (${signal ?? code})`
        done()
      })
    })
  }

  /** True once supervisord has failed to start or has exited: nothing it runs can come up any more. */
  get ended(): boolean {
    return this.#failure !== null
  }

  /** Why a wait may have failed: supervisord's fate and the tail of a program's log. */
  explain(name?: string): string {
    const tail = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-15).join('\n') : '(no log)')
    let text = this.#failure === null ? '' : `\n${this.#failure}`
    text += `\nsupervisord.log:\n${tail(join(this.dir, 'supervisord.log'))}`
    if (name !== undefined) text += `\n${name}.log:\n${tail(join(this.dir, `${name}.log`))}`
    return text
  }

  /** `supervisorctl -c <conf> <args>`. */
  ctl(...args: string[]): Promise<RunResult> {
    return run('supervisorctl', ['-c', this.conf, ...args])
  }

  /** The pid supervisord reports for a program, or undefined while it has none. */
  async pid(name: string): Promise<number | undefined> {
    const n = Number((await this.ctl('pid', name)).stdout.trim())
    return Number.isInteger(n) && n > 0 ? n : undefined
  }

  /** Stops supervisord and its programs (TERM: graceful), then KILLs whatever is left; removes the temp folder. */
  async shutdown(childPids: readonly number[]): Promise<void> {
    if (this.#failure === null) {
      this.#proc.kill('SIGTERM')
      const timer = setTimeout(() => this.#proc.kill('SIGKILL'), 25_000)
      await this.#exited
      clearTimeout(timer)
    }
    for (const pid of childPids) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // already gone: the normal case
      }
    }
    if (existsSync(this.dir)) rmSync(this.dir, { recursive: true, force: true })
  }
}
