import { timingSafeEqual } from 'node:crypto'

/**
 * Access checks shared by the HTTP write routes (POST /publish, /send) and the MCP endpoint:
 * with an api_key a Bearer key, without one loopback callers only.
 */

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
