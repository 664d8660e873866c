import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { expect } from 'vitest'
import { TOOL_NAMES } from '../../src/mcp/schemas.js'
import { TestClient } from './client.js'
import { callErr, callOk } from './observed.js'

/**
 * What a user of the MCP tools sees, over whichever transport `client` uses, against a running
 * workflow service at `wsUrl` with nobody else connected: every tool is listed with both schemas
 * and answers from live state; ws_publish and the test event reach a real subscriber; invalid
 * calls are tool errors naming the problem, and the service keeps answering afterwards.
 */
export async function exerciseWorkflowTools(client: Client, wsUrl: string, wsPort: number): Promise<void> {
  const { tools } = await client.listTools()
  expect(tools.map((t) => t.name).sort()).toEqual([...TOOL_NAMES].sort())
  for (const t of tools) {
    expect(t.inputSchema.type, t.name).toBe('object')
    expect(t.outputSchema?.type, t.name).toBe('object')
    expect(t.description, t.name).toBeTruthy()
    expect(t.annotations?.readOnlyHint, t.name).toBe(!['ws_publish', 'websocket_broadcast_test_event'].includes(t.name))
  }

  const sub = await TestClient.connect(wsUrl, { welcome: false })
  const welcome = await sub.next((f) => f.event === 'session.created')
  expect((await sub.subscribe('workflow:w1')).data?.status).toBe('subscribed')
  try {
    const health = await callOk(client, 'websocket_health_check')
    expect(health).toMatchObject({ status: 'healthy', service: 'workflow', host: '127.0.0.1', port: wsPort, connections: 1, rooms: 1 })
    expect(health).toMatchObject({ max_connections: 1000, message_rate_limit: 100, bridge: { state: 'standalone', kind: 'memory', instances: 1 } })

    const status = await callOk(client, 'websocket_status')
    expect(status).toMatchObject({ service: 'workflow', state: 'running', port: wsPort, connections: 1, rooms: 1 })
    expect(status.mcp_port).toBeGreaterThan(0)

    expect(await callOk(client, 'websocket_list_rooms')).toEqual({ rooms: [{ room: 'workflow:w1', subscribers: 1 }], count: 1 })
    const channels = await callOk(client, 'list_ws_channels')
    expect(channels).toMatchObject({ channels: [{ channel: 'workflow:w1', subscribers: 1 }], count: 1 })
    expect(channels.patterns).toContain('workflow:{id}')

    const clients = await callOk(client, 'list_ws_clients')
    expect(clients).toMatchObject({ count: 1, total: 1 })
    const [info] = clients.clients as Record<string, unknown>[]
    expect(info).toMatchObject({ id: welcome.data?.connection_id, subscriptions: ['workflow:w1'], authenticated: false, user_id: null })
    expect(String(info?.remote_address)).toMatch(/127\.0\.0\.1/)
    expect(Date.parse(String(info?.connected_since))).toBeLessThanOrEqual(Date.now())

    // ws_publish reaches the subscriber, and the service's own state saw it (same path as POST /publish).
    const pub = await callOk(client, 'ws_publish', { channel: 'workflow:w1', event: 'workflow.started', data: { workflow_id: 'w1', total_stages: 3 } })
    expect(pub).toMatchObject({ channel: 'workflow:w1', event: 'workflow.started', delivered: 1 })
    const ev = await sub.next((f) => f.type === 'event')
    expect(ev).toMatchObject({ id: pub.id, event: 'workflow.started', room: 'workflow:w1', data: { workflow_id: 'w1', total_stages: 3 } })
    expect((await sub.request('get_workflow_status', { workflow_id: 'w1' })).data).toMatchObject({ status: 'running', total_stages: 3 })

    const test = await callOk(client, 'websocket_broadcast_test_event', { event_type: 'workflow.stage_completed', room: 'workflow:w1', data: { workflow_id: 'w1', stage_name: 'build' } })
    expect(test.delivered).toBe(1)
    const tev = await sub.next((f) => f.type === 'event')
    expect(tev).toMatchObject({ id: test.id, event: 'workflow.stage_completed', data: { workflow_id: 'w1', stage_name: 'build', test: true } })

    // Invalid calls: tool errors with the wire code and the reason; nothing reaches the subscriber.
    expect(await callErr(client, 'ws_publish', { channel: 'workflow:w1', event: 'workflow.exploded', data: {} })).toBe('INVALID_EVENT: Unknown event: workflow.exploded')
    expect(await callErr(client, 'ws_publish', { channel: 'workflow:w1', event: 'workflow.started', data: {} })).toMatch(/^INVALID_EVENT: workflow\.started: .*'workflow_id'/)
    expect(await callErr(client, 'ws_publish', { channel: 'nowhere:1', event: 'workflow.started', data: { workflow_id: 'w1' } })).toBe('INVALID_CHANNEL: Unknown channel: nowhere:1')
    expect(await callErr(client, 'websocket_broadcast_test_event', { event_type: 'workflow.started', room: 'workflow:w1' })).toMatch(/^INVALID_EVENT: .*'workflow_id'/)
    expect(await callErr(client, 'ws_publish', { channel: 'workflow:w1' })).toMatch(/Input validation error.*event/)
    expect(await callErr(client, 'list_ws_clients', { limit: 0 })).toMatch(/Input validation error.*limit/)
    expect(await callErr(client, 'no_such_tool')).toMatch(/Tool no_such_tool not found/)

    const metrics = await callOk(client, 'websocket_get_metrics')
    expect(metrics).toMatchObject({ service: 'workflow', broadcasts: 2, deliveries: 2, connections: { current: 1, total: 1 }, rooms: 1 })
    expect(metrics.messages).toMatchObject({ in_by_type: { subscribe: 1, get_workflow_status: 1 }, out_by_type: { event: 2, welcome: 1, response: 2 } })
    expect(metrics.bridge).toMatchObject({ state: 'standalone', published: 2 })
    expect(metrics.delivery).toMatchObject({ tracked_events: [], pending: 0, failed: 0 })
    expect(sub.pending).toEqual([])
  } finally {
    await sub.close()
  }
}
