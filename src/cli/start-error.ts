import { envKey } from '../config/settings.js'

interface ListenError {
  code?: string
  port?: number
  address?: string
}

/**
 * One line saying why `service` could not listen and what to do about it, for the errors a user
 * can fix (port in use, port not allowed, address not here); null for anything else.
 */
export function describeStartError(err: unknown, service: string, wsPort: number): string | null {
  // The MCP plugin wraps its listen error: the system error is its cause.
  const listenError = (e: unknown): ListenError => {
    const { code, cause } = (e ?? {}) as ListenError & { cause?: unknown }
    return code === undefined && cause !== undefined ? listenError(cause) : (e ?? {})
  }
  const { code, port, address } = listenError(err)
  if (code === undefined || port === undefined) return null
  const where = `port ${port} on ${address ?? 'its host'}`
  const isWs = port === wsPort
  const hint = isWs
    ? `pick another with --port N or ROOMCAST_${envKey(service)}_PORT=N`
    : `it is the MCP port (the ws port − 10 unless mcp.port is set): set mcp.port in the settings, or mcp.enabled: false`
  switch (code) {
    case 'EADDRINUSE':
      return `roomcast: cannot start ${service}: ${where} is already in use (another roomcast?); ${hint}`
    case 'EACCES':
      return `roomcast: cannot start ${service}: not allowed to listen on ${where} (ports under 1024 need privileges); ${hint}`
    case 'EADDRNOTAVAIL':
      return `roomcast: cannot start ${service}: ${address ?? 'the address'} is not an address of this machine; set --host or ROOMCAST_${envKey(service)}_HOST`
    default:
      return null
  }
}
