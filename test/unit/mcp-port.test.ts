import { describe, expect, it } from 'vitest'
import { parseSettings } from '../../src/index.js'
import { mcpPortOf } from '../../src/mcp/mcp-port.js'
import { TOOL_HANDLERS } from '../../src/mcp/tools.js'
import { WorkflowServer } from '../../services/workflow/index.js'

describe('MCP port', () => {
  it('is the ws port − 10 unless mcp.port says otherwise; 0 (free) with ws port 0', () => {
    expect(mcpPortOf(parseSettings({ port: 8690 }))).toBe(8680)
    expect(mcpPortOf(parseSettings({ port: 8690, mcp: { port: 9000 } }))).toBe(9000)
    expect(mcpPortOf(parseSettings({ port: 0 }))).toBe(0)
    expect(() => mcpPortOf(parseSettings({ port: 5 }))).toThrow(/set mcp.port/)
  })
})

describe('websocket_health_check', () => {
  it('says stopped, with the configured limits, for a server that is not running', async () => {
    const server = new WorkflowServer(parseSettings({ log_level: 'silent', max_connections: 7, message_rate_limit: 3 }))
    expect(await TOOL_HANDLERS.websocket_health_check({ server, mcpPort: () => 0 }, {})).toMatchObject({
      status: 'stopped',
      connections: 0,
      max_connections: 7,
      message_rate_limit: 3,
    })
  })
})
