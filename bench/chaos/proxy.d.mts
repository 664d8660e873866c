// Types of bench/chaos/proxy.mjs, for the tests that put it between a client and a server.
import type { Server, Socket } from 'node:net'

export declare class FaultProxy {
  constructor(upstream: { host?: string; port: number })
  readonly server: Server
  readonly pairs: Set<{ client: Socket; server: Socket; swallow: { up: boolean; down: boolean } }>
  port: number
  accepted: number
  listen(port?: number): Promise<number>
  cut(): number
  stall(ms: number): Promise<void>
  slow(bytesPerSecond: number, ms: number): Promise<void>
  halfOpen(dir: 'up' | 'down', share?: number, random?: () => number): number
  close(): Promise<void>
}
