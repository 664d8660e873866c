import type { ChildProcess } from 'node:child_process'
import { CliProcess } from './cli.js'

/** A `roomcast serve <service>` process on free ports (ws port 0, so the MCP port is free too). */
export interface CliService {
  readonly proc: ChildProcess
  readonly port: number
  /** 0 when the service logged no `MCP listening` (MCP disabled). */
  readonly mcpPort: number
  /** SIGTERM, then wait for the exit. */
  stop(): Promise<void>
}

/**
 * Spawns the built CLI and resolves once it logs `listening` (after its MCP port is bound),
 * reading both ports from its log lines; rejects with its output if it exits first.
 */
export async function serveCli(service: string, extraArgs: string[] = []): Promise<CliService> {
  const cli = new CliProcess(['serve', service, '--port', '0', ...extraArgs])
  const port = await cli.port(service)
  const mcp = /"port":(\d+)[^\n]*"msg":"MCP listening"/.exec(cli.stdout)
  const stop = async () => {
    if (cli.proc.exitCode === null && cli.proc.signalCode === null) await cli.signal('SIGTERM')
  }
  return { proc: cli.proc, port, mcpPort: mcp === null ? 0 : Number(mcp[1]), stop }
}
