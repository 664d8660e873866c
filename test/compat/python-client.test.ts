import { afterEach, describe, it } from 'vitest'
import { probe } from '../helpers/python-probe.js'
import { startDeclared, startService, type Started } from '../helpers/server.js'

describe('a Python client (Debian python3-websockets) sees the frames mcp_common.websocket expects', () => {
  let s: Started
  afterEach(async () => s?.server.close())

  it('welcome, WebSocketClient-form subscribe, event, request, DECODE_ERROR, pong, UNKNOWN_REQUEST, unsubscribe', async () => {
    s = await startService('workflow')
    await probe(s, { server: 'workflow', message: 'Connected to Mahavishnu orchestration' })
  })

  it('the same frames from a service declared in YAML alone (settings `service:` block, no code)', async () => {
    s = await startDeclared(MIRROR)
    await probe(s, { server: 'mirror', message: 'Connected to a YAML service' })
  })
})

/** The workflow service's names, declared in YAML: the probe's channel, event and request. */
const MIRROR = `
service:
  name: mirror
  welcome: Connected to a YAML service
  channels:
    - pattern: "workflow:{id}"
  events:
    workflow.started:
      schema: { type: object, required: [workflow_id], properties: { workflow_id: { type: string, minLength: 1 } } }
  lookups:
    get_workflow_status: { key: workflow_id, events: [workflow.started] }
`
