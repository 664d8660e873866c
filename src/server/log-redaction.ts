import type { IncomingMessage } from 'node:http'

/**
 * Log lines never carry a query string's values: a flat client's `?token=…` (and its agent and
 * session ids) would otherwise sit in every log a refused upgrade writes. A key with a value stays
 * readable; a bare key (`/x?abc`) may itself be the secret, so it goes too.
 */
export function redactQuery(url: unknown): unknown {
  if (typeof url !== 'string') return url
  const q = url.indexOf('?')
  if (q === -1) return url
  const query = url
    .slice(q + 1)
    .split('&')
    .map((part) => {
      const eq = part.indexOf('=')
      return eq === -1 ? 'REDACTED' : `${part.slice(0, eq)}=REDACTED`
    })
    .join('&')
  return `${url.slice(0, q)}?${query}`
}

type RequestFields = Pick<IncomingMessage, 'method' | 'url'> & { host?: string; ip?: string; socket?: { remotePort?: number } }

/**
 * pino serializers of every server log: `url` fields, and `req` as fastify's request logging
 * writes it (fastify lays the logger's own serializers over its defaults).
 */
export const logSerializers = {
  url: redactQuery,
  req: (req: RequestFields) => ({
    method: req.method,
    url: redactQuery(req.url),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  }),
}
