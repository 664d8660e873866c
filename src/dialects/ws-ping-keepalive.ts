import type { KeepaliveHooks } from './dialect.js'

export interface WsPingOptions {
  /** Seconds of client silence before a protocol ping is sent. */
  readonly interval: number
  /** Seconds to wait for the pong before the connection is terminated. */
  readonly timeout: number
}

/**
 * The envelope's keepalive: pings connections that have been silent for `interval` with a
 * WebSocket ping frame and terminates those whose pong does not come within `timeout`
 * (docs/protocol.md A.7). One timer for all connections; returns a stop function. Any frame or
 * pong from a client counts as life (Connection.lastSeen).
 */
export function startWsPingKeepalive(hooks: KeepaliveHooks, opts: WsPingOptions): () => void {
  const interval = opts.interval * 1000
  const timeout = opts.timeout * 1000
  const tick = Math.max(10, Math.min(interval, timeout) / 2)
  const timer = setInterval(() => {
    const now = Date.now()
    for (const conn of hooks.connections()) {
      if (conn.pingSentAt !== 0) {
        if (now - conn.pingSentAt >= timeout) {
          hooks.onTimeout(conn)
          conn.socket.terminate()
        }
      } else if (now - conn.lastSeen >= interval) {
        conn.pingSentAt = now
        conn.ping()
      }
    }
  }, tick)
  timer.unref()
  return () => clearInterval(timer)
}
