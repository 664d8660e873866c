import { CloseCode, CloseReason } from '../protocol/codes.js'
import { textFrame } from '../server/frame.js'
import type { KeepaliveHooks } from './dialect.js'

export interface AppPingOptions {
  /** Seconds between ping frames to every connection. */
  readonly interval: number
  /** Seconds of client silence (no frame at all), or without the pong of a protocol ping, before close 4000. */
  readonly timeout: number
  /** The dialect's ping frame (text). */
  readonly ping: () => string
}

/** How long a closed silent client gets to finish the close handshake before it is terminated. */
const CLOSE_GRACE_MS = 1000

/**
 * An application-level keepalive (the flat dialect, docs/protocol.md B): a ping frame to every
 * open connection each `interval`, and close 4000 `Heartbeat timeout` for a connection silent for
 * `timeout`. With the ping frame goes a WebSocket protocol ping (two bytes, answered by every
 * WebSocket library on its own) when none is outstanding, and a connection whose pong has not come
 * `timeout` after it is closed the same way: frames from the client prove only that the
 * client→server direction works, not that the client still receives. One timer for all
 * connections; returns a stop function.
 */
export function startAppPingKeepalive(hooks: KeepaliveHooks, opts: AppPingOptions): () => void {
  const interval = opts.interval * 1000
  const timeout = opts.timeout * 1000
  const tick = Math.max(10, Math.min(interval, timeout) / 4)
  let lastPing = Date.now()
  const timer = setInterval(() => {
    const now = Date.now()
    const pingNow = now - lastPing >= interval
    if (pingNow) lastPing = now
    // Framed once per round: every connection gets the same bytes.
    const frame = pingNow ? textFrame(opts.ping()) : null
    for (const conn of hooks.connections()) {
      if (conn.phase === 'closing') continue
      if (now - conn.lastSeen >= timeout || (conn.pingSentAt !== 0 && now - conn.pingSentAt >= timeout)) {
        hooks.onTimeout(conn)
        conn.close(CloseCode.HEARTBEAT_TIMEOUT, CloseReason.HEARTBEAT_TIMEOUT)
        setTimeout(() => conn.socket.terminate(), CLOSE_GRACE_MS).unref()
      } else if (frame !== null && conn.phase === 'open') {
        hooks.sendFramed(conn, 'ping', frame)
        if (conn.pingSentAt === 0) {
          conn.pingSentAt = now
          conn.ping()
        }
      }
    }
  }, tick)
  timer.unref()
  return () => clearInterval(timer)
}
