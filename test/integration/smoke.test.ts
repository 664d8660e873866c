import { afterEach, describe, expect, it } from 'vitest'
import { TestClient } from '../helpers/client.js'
import { startService, type Started } from '../helpers/server.js'

describe('workflow service over a real socket', () => {
  let s: Started
  afterEach(async () => s?.server.close())

  it('welcomes, subscribes, and delivers a published event with the nine keys in order', async () => {
    s = await startService('workflow', { allow_client_publish: true })
    const c = await TestClient.connect(s.url)
    const sub = await c.subscribe('workflow:w1')
    expect(sub.data).toEqual({ status: 'subscribed', channel: 'workflow:w1' })
    const res = await c.request('publish', { channel: 'workflow:w1', event: 'workflow.started', data: { workflow_id: 'w1' } })
    expect(res.type).toBe('response')
    const ev = await c.next((f) => f.type === 'event' && f.event === 'workflow.started')
    expect(Object.keys(ev)).toEqual(['id', 'correlation_id', 'type', 'event', 'data', 'timestamp', 'room', 'error_code', 'error_message'])
    expect(ev.room).toBe('workflow:w1')
    expect(ev.id).toBe(res.data?.id)
    await c.close()
  })
})
