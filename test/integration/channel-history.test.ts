import { afterEach, describe, expect, it } from 'vitest'
import { startService, type Started } from '../helpers/server.js'
import { startTracked, type TrackedNode } from '../helpers/tracked-service.js'

const get = async (base: string, path: string) => {
  const res = await fetch(`${base}${path}`)
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

describe('GET /channels/{channel}/history (docs/http.md)', () => {
  let s: Started | undefined
  let node: TrackedNode | undefined
  afterEach(async () => {
    await s?.server.close()
    await node?.server.close()
    s = node = undefined
  })

  it("answers a history channel's latest publications, oldest first, with the stream's position; refuses what has none", async () => {
    s = await startService('workflow', { history: [{ channel: 'workflow:*', size: 100, ttl: 300 }] })
    for (let i = 1; i <= 3; i++) await s.server.publish('workflow:w1', 'workflow.started', { workflow_id: 'w1', n: i })
    const { status, body } = await get(s.http, '/channels/workflow:w1/history?limit=2')
    expect(status).toBe(200)
    expect(body).toMatchObject({ channel: 'workflow:w1', offset: 3, epoch: expect.any(String) })
    expect((body.publications as { offset: number; event: string; data: unknown }[]).map((p) => [p.offset, p.event, p.data])).toEqual([
      [2, 'workflow.started', { workflow_id: 'w1', n: 2 }],
      [3, 'workflow.started', { workflow_id: 'w1', n: 3 }],
    ])
    expect((await get(s.http, '/channels/workflow%3Aw1/history')).body.publications).toHaveLength(3)
    expect(await get(s.http, '/channels/workflow:w9/history')).toMatchObject({ status: 200, body: { publications: [] } })

    expect(await get(s.http, '/channels/global/history')).toMatchObject({ status: 404, body: { code: 'NOT_FOUND', error: 'Channel global keeps no history (settings: history)' } })
    expect(await get(s.http, '/channels/nowhere:1/history')).toMatchObject({ status: 400, body: { code: 'INVALID_CHANNEL' } })
    for (const limit of ['0', '101', 'x', '-1']) {
      expect(await get(s.http, `/channels/workflow:w1/history?limit=${limit}`)).toMatchObject({ status: 400, body: { code: 'INVALID_PARAMS' } })
    }
    expect(await get(s.http, '/channels/workflow:w1/other')).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } })
  })

  it('takes a channel name holding / as is or encoded', async () => {
    node = await startTracked({ history: [{ channel: 'topics/*', size: 10, ttl: 60 }] }, undefined, 'flat')
    await node.server.publish('topics/deploys', 'note.added', { text: 'hi' })
    for (const path of ['/channels/topics/deploys/history', '/channels/topics%2Fdeploys/history']) {
      expect(await get(node.http, path)).toMatchObject({ status: 200, body: { channel: 'topics/deploys', offset: 1, publications: [{ offset: 1, event: 'note.added', data: { text: 'hi' } }] } })
    }
  })

  it('decodes the channel name once: a name holding % is reached as %25, and %2541 is %41, not A', async () => {
    node = await startTracked({ history: [{ channel: 'topics/*', size: 10, ttl: 60 }] }, undefined, 'flat')
    await node.server.publish('topics/100%', 'note.added', { text: 'full' })
    await node.server.publish('topics/50%41', 'note.added', { text: 'percent-41' })
    for (const path of ['/channels/topics%2F100%25/history', '/channels/topics/100%25/history']) {
      expect(await get(node.http, path)).toMatchObject({ status: 200, body: { channel: 'topics/100%', publications: [{ data: { text: 'full' } }] } })
    }
    expect(await get(node.http, '/channels/topics/50%2541/history')).toMatchObject({ status: 200, body: { channel: 'topics/50%41', publications: [{ data: { text: 'percent-41' } }] } })
    // Not a URL at all: the same {error, code} body as every other refusal.
    for (const path of ['/channels/%/history', '/channels/topics%2F%E0%A4%A/history']) {
      expect(await get(node.http, path)).toMatchObject({ status: 400, body: { code: 'INVALID_PARAMS', error: expect.stringContaining('not a valid url') } })
    }
  })
})
