import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { ROOT } from './supervisor.js'

/** A `roomcast serve <service>` process on free ports (ws port 0, so the MCP port is free too). */
export interface CliService {
  readonly proc: ChildProcess
  readonly port: number
  readonly mcpPort: number
  /** SIGTERM, then wait for the exit. */
  stop(): Promise<void>
}

/**
 * Spawns the built CLI and resolves once it logs `listening` (after its MCP port is bound),
 * reading both ports from its JSON log lines; rejects with its output if it exits first.
 */
export function serveCli(service: string, extraArgs: string[] = []): Promise<CliService> {
  const proc = spawn(process.execPath, ['bin/roomcast.js', 'serve', service, '--port', '0', ...extraArgs], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = once(proc, 'exit')
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM')
      await exited
    }
  }
  let output = ''
  proc.stderr!.on('data', (d: Buffer) => (output += d.toString()))
  return new Promise((resolve, reject) => {
    let mcpPort = 0
    const lines = createInterface({ input: proc.stdout! })
    lines.on('line', (line) => {
      output += `${line}\n`
      let rec: { msg?: string; port?: number }
      try {
        rec = JSON.parse(line) as typeof rec
      } catch {
        return
      }
      if (rec.msg === 'MCP listening') mcpPort = rec.port ?? 0
      if (rec.msg === 'listening') resolve({ proc, port: rec.port ?? 0, mcpPort, stop })
    })
    void exited.then(([code, signal]) => reject(new Error(`roomcast serve ${service} exited (${String(signal ?? code)}) before listening:\n${output}`)))
  })
}
