import type { Logger } from 'pino'
import { CloseCode, CloseReason } from '../protocol/codes.js'
import type { Connection } from './connection.js'

/**
 * The bounded drain of a shutdown: closes every connection with 1001 and waits for their close
 * handshakes, at most `timeoutMs`; then terminates those still open. `connections` is the live
 * table (a connection leaves it once closed), so the count logged at the timeout is what remains.
 */
export async function drainConnections(connections: ReadonlyMap<string, Connection>, timeoutMs: number, log: Logger): Promise<void> {
  const pending = [...connections.values()].map(
    (conn) =>
      new Promise<void>((resolve) => {
        if (conn.socket.readyState === 3) return resolve()
        conn.socket.once('close', () => resolve())
        // Already closed by us (slow consumer, failed auth): its close handshake is not coming; do not wait for it.
        if (conn.phase === 'closing') conn.socket.terminate()
        else conn.close(CloseCode.GOING_AWAY, CloseReason.SHUTTING_DOWN)
      }),
  )
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs)
  })
  const outcome = await Promise.race([Promise.all(pending), timeout])
  clearTimeout(timer)
  if (outcome === 'timeout') {
    log.warn({ remaining: connections.size }, 'drain timeout: terminating remaining connections')
    for (const conn of connections.values()) conn.socket.terminate()
  }
}
