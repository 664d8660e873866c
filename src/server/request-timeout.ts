import type { Settings } from '../config/settings.js'

/** How long a request may take to arrive, and how often node looks for overdue ones. */
export interface RequestTimeouts {
  /** Milliseconds for the headers and body of one request; an overdue request gets 408 and its socket is closed. */
  readonly requestTimeout: number
  /** The same bound for the headers alone: node swaps the two when headersTimeout is the larger (60 s default). */
  readonly headersTimeout: number
  /** Milliseconds between node's sweeps for overdue requests (node's default 30 s would let a 10 s bound run to 40 s). */
  readonly connectionsCheckingInterval: number
}

/**
 * Bounds an HTTP request in time on both ports (http_request_timeout): a client trickling a
 * chunked body one byte at a time would otherwise hold its socket, and fastify's default is no bound.
 * Upgraded WebSocket connections leave node's HTTP bookkeeping and are not affected.
 */
export function requestTimeouts(settings: Pick<Settings, 'http_request_timeout'>): RequestTimeouts {
  const requestTimeout = Math.ceil(settings.http_request_timeout * 1000)
  return { requestTimeout, headersTimeout: requestTimeout, connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(requestTimeout / 4))) }
}
