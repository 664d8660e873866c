import type { KeepaliveHooks } from './dialect.js'

export interface WsPingOptions {
  /** Seconds from the last pong (or the connect) to the next protocol ping. */
  readonly interval: number
  /** Seconds to wait for the pong before the connection is terminated. */
  readonly timeout: number
}

/**
 * The envelope's keepalive (docs/protocol.md A.7): a WebSocket ping frame to every connection
 * `interval` after its last pong (or its connect), whatever it sends meanwhile, and terminates
 * one whose pong does not come within `timeout`. Only a pong counts: frames from the client
 * prove that the client→server direction works, not that the client still receives (a proxy that
 * forwards one way only, a client whose reading side is gone). A connection is dropped within
 * interval + timeout + one tick of its last pong. One timer for all connections; a ping is the
 * same two bytes for every one (Connection.ping); returns a stop function.
 */
export function startWsPingKeepalive(hooks: KeepaliveHooks, opts: WsPingOptions): () => void {
  const interval = opts.interval * 1000
  const timeout = opts.timeout * 1000
  const tick = keepaliveTick(opts)
  const timer = setInterval(() => {
    const now = Date.now()
    for (const conn of hooks.connections()) {
      if (conn.pingSentAt !== 0) {
        if (now - conn.pingSentAt >= timeout) {
          hooks.onTimeout(conn)
          conn.socket.terminate()
        }
      } else if (now - conn.lastPong >= interval) {
        conn.pingSentAt = now
        conn.ping()
      }
    }
  }, tick)
  timer.unref()
  return () => clearInterval(timer)
}

/** The keepalive's tick (ms): half the smaller of interval and timeout, at least 10 ms. */
export function keepaliveTick(opts: WsPingOptions): number {
  return Math.max(10, (Math.min(opts.interval, opts.timeout) * 1000) / 2)
}
