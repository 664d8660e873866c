import { readFileSync } from 'node:fs'
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { createSecureContext } from 'node:tls'
import { type Settings, SettingsError } from '../config/settings.js'

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

/** The PEM contents of the `tls` setting. */
export interface TlsFiles {
  readonly cert: Buffer
  readonly key: Buffer
}

/** Reads and checks the `tls` setting's files: their contents, or every problem as `key: why`. */
function readTls(tls: NonNullable<Settings['tls']>): { files: TlsFiles; problems: string[] } {
  const problems: string[] = []
  const read = (key: 'cert' | 'key'): Buffer => {
    try {
      return readFileSync(tls[key])
    } catch (err) {
      problems.push(`tls.${key}: cannot read ${tls[key]}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
      return Buffer.alloc(0)
    }
  }
  const files = { cert: read('cert'), key: read('key') }
  if (problems.length === 0) {
    try {
      createSecureContext(files)
    } catch (err) {
      problems.push(`tls: ${tls.cert} and ${tls.key} are not a PEM certificate and its private key: ${(err as Error).message}`)
    }
  }
  return { files, problems }
}

/** The `tls` setting's problems, for the CLI to list with the settings file's. */
export function tlsProblems(settings: Pick<Settings, 'tls'>): string[] {
  return settings.tls === null ? [] : readTls(settings.tls).problems
}

/**
 * Reads the `tls` setting's files at boot, so that a wrong path or a cert and key that do not
 * belong together stop the service with the setting and the file named, not at the first client.
 */
export function loadTls(settings: Pick<Settings, 'tls'>, source: string): TlsFiles | null {
  if (settings.tls === null) return null
  const { files, problems } = readTls(settings.tls)
  if (problems.length > 0) throw new SettingsError(source, problems)
  return files
}

/** Builds the service port's raw server: https with the TLS files, else http; both bounded in time. */
export function serverFactory(settings: Pick<Settings, 'http_request_timeout'>, tls: TlsFiles | null): (handler: RequestListener) => Server {
  const timeouts = requestTimeouts(settings)
  return (handler) => (tls === null ? createHttpServer(timeouts, handler) : createHttpsServer({ ...timeouts, ...tls }, handler))
}
