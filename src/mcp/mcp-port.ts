import type { Settings } from '../config/settings.js'

// What the CLI needs of MCP without loading the MCP SDK (mcp-plugin.ts loads it, and only a
// service with mcp.enabled loads mcp-plugin.ts).

export const MCP_SERVER_VERSION = '0.1.0'

/** The MCP HTTP port of a service: `mcp.port`, else ws port − 10 (0, a free port, when the ws port is 0). */
export function mcpPortOf(settings: Pick<Settings, 'port' | 'mcp'>): number {
  if (settings.mcp.port !== null) return settings.mcp.port
  if (settings.port === 0) return 0
  if (settings.port < 10) throw new Error(`Cannot derive the MCP port from ws port ${settings.port}: set mcp.port`)
  return settings.port - 10
}

