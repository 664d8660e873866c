import { readFileSync } from 'node:fs'
import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { MetricsPlugin, parseSettings } from '../../src/index.js'
import { TOOL_NAMES } from '../../src/mcp/schemas.js'
import { WorkflowServer } from '../../services/workflow/index.js'

const read = (name: string) => readFileSync(new URL(`../../docs/${name}`, import.meta.url), 'utf8')
const tableNames = (doc: string) => [...doc.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1])

describe('observability docs', () => {
  it('docs/metrics.md lists exactly the metrics the plugin registers', async () => {
    const plugin = new MetricsPlugin()
    const app = Fastify()
    plugin.setup(new WorkflowServer(parseSettings({ log_level: 'silent' })), app)
    await app.close()
    const names = plugin.metricNames()
    expect(names.length).toBeGreaterThan(15)
    expect(tableNames(read('metrics.md')).sort()).toEqual([...names].sort())
  })

  it('docs/mcp.md lists exactly the MCP tools', () => {
    expect(tableNames(read('mcp.md')).sort()).toEqual([...TOOL_NAMES].sort())
  })
})
