import { timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { isIP } from 'node:net'
import type { Settings } from '../config/settings.js'
import { ErrorCode } from '../protocol/codes.js'

/**
 * The one access policy of every HTTP route, the WebSocket upgrade and the MCP endpoint
 * (docs/deployment.md "Who may call what"). Every request:
 * - a browser request (it has an `Origin`) must come from an allowed origin;
 * - `public` routes (GET /health, 404s): without an api_key, the `Host` must be an IP address or
 *   localhost — a page rebinding its DNS name to 127.0.0.1 names itself in `Host`;
 * - `protected` routes (everything else, the default): with an api_key, `Authorization: Bearer <key>`;
 *   without one, a loopback client naming a loopback or IP `Host`;
 * - `socket` routes (the upgrade): the origin check only; the connection then follows auth.required.
 */
export type RouteAccess = 'public' | 'protected' | 'socket'

export type PolicySettings = Pick<Settings, 'api_key' | 'allowed_origins' | 'trust_proxy'>

/** Why a request was turned away: the HTTP status and the `{error, code}` body. */
export interface Refusal {
  readonly status: 401 | 403
  readonly code: ErrorCode
  readonly error: string
}

/** The parts of a request the policy reads: node's IncomingMessage or fastify's raw request. */
type RequestLike = Pick<IncomingMessage, 'headers' | 'socket'>

/** Whether a peer address is loopback (IPv4, IPv6, or IPv4-mapped IPv6). */
export function isLoopback(addr: string | undefined): boolean {
  return addr !== undefined && (addr === '::1' || addr.startsWith('127.') || addr.startsWith('::ffff:127.'))
}

/** Whether an Authorization header is `Bearer <key>`, compared in constant time. */
export function bearerMatches(header: string | undefined, key: string): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? '')
  if (m === null) return false
  const a = Buffer.from(m[1] as string)
  const b = Buffer.from(key)
  return a.length === b.length && timingSafeEqual(a, b)
}

// A Host header as browsers send it: a name or IPv4 with an optional port, or a bracketed IPv6.
const HOST_HEADER = /^(?:([a-z0-9.-]+)|\[([0-9a-f:.]+)\])(?::\d{1,5})?$/i

/** The host name of a Host header, lower case, IPv6 without brackets; null when malformed. */
export function hostnameOf(host: string | undefined): string | null {
  const m = HOST_HEADER.exec(host ?? '')
  if (m === null) return null
  return (m[1] ?? m[2] ?? '').toLowerCase()
}

/** Whether a host name is one no DNS answer can point elsewhere: localhost or a loopback address. */
function isLoopbackName(name: string): boolean {
  return name === 'localhost' || (isIP(name) !== 0 && isLoopback(name))
}

const trailing = (header: string | string[] | undefined): string | undefined => {
  const value = Array.isArray(header) ? header.join(',') : header
  return value?.split(',').at(-1)?.trim() || undefined
}

/** A Host header: malformed, localhost or a loopback address, another IP address, or a DNS name. */
type HostKind = 'malformed' | 'loopback' | 'ip' | 'name'
/** How many Host header values the policy remembers. */
const HOST_KINDS = 256

export class AccessPolicy {
  readonly #settings: PolicySettings
  readonly #origins: ReadonlySet<string>
  readonly #hostKinds = new Map<string, HostKind>()

  constructor(settings: PolicySettings) {
    this.#settings = settings
    this.#origins = new Set(settings.allowed_origins)
  }

  /**
   * The client's address: the TCP peer, or with trust_proxy the last `X-Forwarded-For` entry —
   * the one our own proxy appended (entries before it are whatever the client claimed).
   */
  clientAddress(req: RequestLike): string {
    const forwarded = this.#settings.trust_proxy ? trailing(req.headers['x-forwarded-for']) : undefined
    return forwarded ?? req.socket.remoteAddress ?? 'unknown'
  }

  /** Whether the client reached us over TLS: natively, or with trust_proxy per `X-Forwarded-Proto`. */
  isSecure(req: RequestLike): boolean {
    if ((req.socket as { encrypted?: boolean }).encrypted === true) return true
    return this.#settings.trust_proxy && trailing(req.headers['x-forwarded-proto'])?.toLowerCase() === 'https'
  }

  /** Null when the request may go on, else why not. */
  check(req: RequestLike, access: RouteAccess): Refusal | null {
    const origin = req.headers.origin
    if (origin !== undefined && !this.originAllowed(origin, req.headers.host)) {
      return forbidden(`Origin ${origin} is not allowed (allowed_origins setting)`)
    }
    if (access === 'socket') return null
    return this.#routeRefusal(req, access)
  }

  /**
   * Whether an upgraded request may use what protected routes serve (an operator, docs/protocol.md
   * A.9): `check(req, 'protected') === null` for a request whose origin `check(req, 'socket')`
   * already let through, without checking the origin again.
   */
  operator(req: RequestLike): boolean {
    return this.#routeRefusal(req, 'protected') === null
  }

  /** The checks of `public` and `protected` routes after the origin's. */
  #routeRefusal(req: RequestLike, access: 'public' | 'protected'): Refusal | null {
    const key = this.#settings.api_key
    if (key !== null && access === 'protected') {
      if (bearerMatches(req.headers.authorization, key)) return null
      return { status: 401, code: ErrorCode.AUTH_FAILED, error: 'Missing or invalid API key (Authorization: Bearer <key>)' }
    }
    if (key === null) {
      const kind = this.#hostKind(req.headers.host)
      if (kind === 'malformed' || kind === 'name') {
        return forbidden(`Host ${req.headers.host ?? '(none)'} is not allowed without an api_key setting: use localhost or an IP address`)
      }
      if (access === 'protected' && !(kind === 'loopback' && isLoopback(this.clientAddress(req)))) {
        return forbidden('Without an api_key setting this route is served to loopback callers only')
      }
    }
    return null
  }

  /**
   * What a Host header names, remembered per header value (a reconnect storm sends the same
   * few): a regular expression and an address parse per request were a noticeable part of what
   * a connection costs. At most HOST_KINDS values are kept; then the memory starts over.
   */
  #hostKind(header: string | undefined): HostKind {
    if (header === undefined) return 'malformed'
    let kind = this.#hostKinds.get(header)
    if (kind === undefined) {
      const name = hostnameOf(header)
      kind = name === null ? 'malformed' : isLoopbackName(name) ? 'loopback' : isIP(name) !== 0 ? 'ip' : 'name'
      if (this.#hostKinds.size >= HOST_KINDS) this.#hostKinds.clear()
      this.#hostKinds.set(header, kind)
    }
    return kind
  }

  /**
   * A browser page may connect when its origin is listed (or the list holds "*"), is on a
   * loopback host (the dashboard, a local dev server), or is the very host the request names by
   * IP address. A DNS name is never taken on trust: under rebinding the page's name and the
   * Host header agree.
   */
  originAllowed(origin: string, host: string | undefined): boolean {
    if (this.#origins.has('*') || this.#origins.has(origin)) return true
    let url: URL
    try {
      url = new URL(origin)
    } catch {
      return false // "null" (sandboxed frames, file: pages) and garbage
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return false
    if (this.#origins.has(url.origin)) return true
    const name = url.hostname.replace(/^\[|\]$/g, '')
    if (isLoopbackName(name)) return true
    return isIP(name) !== 0 && name === hostnameOf(host)
  }
}

const forbidden = (error: string): Refusal => ({ status: 403, code: ErrorCode.FORBIDDEN, error })
