import { afterEach, describe, expect, it } from 'vitest'
import { type Frame, TestClient } from '../helpers/client.js'
import { FlatClient } from '../helpers/flat.js'
import { startService, type Started } from '../helpers/server.js'

const WORKFLOW_PRESENCE = { presence: [{ channel: 'workflow:{id}', join_leave: true }, { channel: 'pool:*' }] }
const CONTEXT_PRESENCE = { presence: [{ channel: 'sessions/{id}', join_leave: true }, { channel: 'topics/{topic}', join_leave: true }] }

describe('presence on one instance', () => {
  const nodes: Started[] = []
  const clients: TestClient[] = []
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()))
    await Promise.all(nodes.splice(0).map((n) => n.server.close()))
  })
  const start = async (service: string, settings: object) => {
    const node = await startService(service, settings)
    nodes.push(node)
    return node
  }
  const envelope = async (node: Started) => {
    const c = await TestClient.connect(node.url)
    clients.push(c)
    return c
  }
  const flat = async (node: Started, query: Record<string, string> = {}) => {
    const c = await FlatClient.open(node.url, query)
    clients.push(c)
    return c
  }

  it('envelope: presence and presence_stats list who is subscribed; join and leave reach the others once per connection', async () => {
    const node = await start('workflow', WORKFLOW_PRESENCE)
    const [a, b] = [await envelope(node), await envelope(node)]
    await a.subscribe('workflow:w1')
    await b.subscribe('workflow:w1')
    await b.subscribe('workflow:w1') // again: no second join
    const join = await a.next((f) => f.type === 'event' && f.event === 'join')
    expect(join.room).toBe('workflow:w1')
    expect(join.data).toMatchObject({ user_id: null, session_id: null, instance: node.server.instanceId })
    const presence = await a.request('presence', { channel: 'workflow:w1' })
    expect(presence.type).toBe('response')
    expect(presence.data).toMatchObject({ channel: 'workflow:w1', count: 2, clients: 2, users: 0 })
    const ids = (presence.data!.members as Frame[]).map((m) => m.connection_id)
    expect(ids).toContain(join.data!.connection_id)
    expect(ids).toHaveLength(2)
    expect((await b.request('presence_stats', { channel: 'workflow:w1' })).data).toEqual({ channel: 'workflow:w1', clients: 2, users: 0 })
    await b.request('unsubscribe', { channel: 'workflow:w1' })
    const leave = await a.next((f) => f.type === 'event' && f.event === 'leave')
    expect(leave.data!.connection_id).toBe(join.data!.connection_id)
    await a.alive()
    expect(a.pending.filter((f) => f.event === 'join' || f.event === 'leave')).toEqual([])
    expect(b.pending.filter((f) => f.event === 'join' || f.event === 'leave')).toEqual([])
  })

  it('refuses a channel without presence with PRESENCE_NOT_ENABLED, an unknown one with INVALID_CHANNEL', async () => {
    const node = await start('workflow', WORKFLOW_PRESENCE)
    const a = await envelope(node)
    const off = await a.request('presence', { channel: 'global' })
    expect([off.type, off.error_code, off.error_message]).toEqual(['error', 'PRESENCE_NOT_ENABLED', 'Channel global keeps no presence (settings: presence)'])
    expect((await a.request('presence_stats', { channel: 'nowhere:1' })).error_code).toBe('INVALID_CHANNEL')
    expect((await a.request('presence', {})).error_code).toBe('INVALID_CHANNEL')
    const http = await fetch(`${node.http}/channels/global/presence`)
    expect([http.status, ((await http.json()) as Frame).code]).toEqual([400, 'PRESENCE_NOT_ENABLED'])
  })

  it('flat: presence frames, an agent identity in the members, FORBIDDEN on another agent’s private channel; HTTP routes', async () => {
    const node = await start('context', CONTEXT_PRESENCE)
    const a = await flat(node, { agent_id: 'alice', session_id: 's1' })
    const b = await flat(node, { agent_id: 'bob', session_id: 's1' })
    const joined = await a.next((f) => f.type === 'event' && f.event === 'join' && f.channel === 'sessions/s1')
    expect(joined.data).toMatchObject({ user_id: 'bob', session_id: 's1' })
    const ack = await a.op({ type: 'presence', channel: 'sessions/s1' })
    expect(ack).toMatchObject({ type: 'ack', success: true, channel: 'sessions/s1', count: 2, clients: 2, users: 2 })
    expect((ack.members as Frame[]).map((m) => m.user_id).sort()).toEqual(['alice', 'bob'])
    const one = await a.op({ type: 'presence', channel: 'sessions/s1', limit: 1 })
    expect(one).toMatchObject({ success: true, count: 1, clients: 2 })
    const two = await a.op({ type: 'presence', channel: 'sessions/s1', limit: 1, after: one.next })
    expect(two).toMatchObject({ success: true, count: 1, next: null })
    expect([...(one.members as Frame[]), ...(two.members as Frame[])]).toEqual(ack.members)
    expect(await a.op({ type: 'presence_stats', channel: 'sessions/s1' })).toMatchObject({ success: true, clients: 2, users: 2 })
    const refused = await b.op({ type: 'presence', channel: 'agents/alice' })
    expect(refused).toMatchObject({ success: false, code: 'FORBIDDEN', error: 'Not authorized to see the presence of agents/alice' })
    expect(await b.op({ type: 'presence', channel: 'global' })).toMatchObject({ success: false, code: 'PRESENCE_NOT_ENABLED' })

    const list = (await (await fetch(`${node.http}/channels`)).json()) as { channels: Frame[] }
    expect(list.channels).toContainEqual({ channel: 'sessions/s1', subscribers: 2, presence: true })
    expect(list.channels).toContainEqual({ channel: 'global', subscribers: 2, presence: false })
    for (const path of ['sessions/s1', 'sessions%2Fs1']) {
      const body = (await (await fetch(`${node.http}/channels/${path}/presence`)).json()) as Frame
      expect(body).toMatchObject({ channel: 'sessions/s1', count: 2, users: 2 })
    }
    expect(await (await fetch(`${node.http}/channels/sessions/s1/presence/stats`)).json()).toEqual({ channel: 'sessions/s1', clients: 2, users: 2 })
    await b.close()
    const left = await a.next((f) => f.type === 'event' && f.event === 'leave' && f.channel === 'sessions/s1')
    expect(left.data).toMatchObject({ user_id: 'bob' })
  })

  it('presence answers in pages: limit and after walk the whole list once, in order; bad limits and cursors are INVALID_PARAMS', async () => {
    const node = await start('workflow', WORKFLOW_PRESENCE)
    const members: TestClient[] = []
    for (let i = 0; i < 5; i++) members.push(await envelope(node))
    for (const c of members) await c.subscribe('pool:p1')
    const a = members[0]!
    const whole = (await a.request('presence', { channel: 'pool:p1' })).data!
    expect(whole).toMatchObject({ count: 5, clients: 5, next: null })
    const order = (whole.members as Frame[]).map((m) => m.connection_id)
    const walked: unknown[] = []
    let after: unknown = undefined
    for (let page = 0; page < 3; page++) {
      const answer = (await a.request('presence', { channel: 'pool:p1', limit: 2, ...(after === undefined ? {} : { after }) })).data!
      expect(answer).toMatchObject({ channel: 'pool:p1', count: page < 2 ? 2 : 1, clients: 5 })
      walked.push(...(answer.members as Frame[]).map((m) => m.connection_id))
      after = answer.next
      expect(after === null).toBe(page === 2)
    }
    expect(walked).toEqual(order)
    // The order is connected_at, then connection_id.
    const keys = (whole.members as Frame[]).map((m) => [Date.parse(m.connected_at as string), m.connection_id as string] as const)
    expect([...keys].sort((x, y) => x[0] - y[0] || (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0))).toEqual(keys)
    for (const limit of [0, 1001, 1.5, '2']) {
      const bad = await a.request('presence', { channel: 'pool:p1', limit })
      expect([bad.error_code, bad.error_message]).toEqual(['INVALID_PARAMS', "Field 'limit' must be a whole number from 1 to 1000"])
    }
    expect((await a.request('presence', { channel: 'pool:p1', after: 'nope' })).error_code).toBe('INVALID_PARAMS')
    const http = (await (await fetch(`${node.http}/channels/pool:p1/presence?limit=3`)).json()) as Frame
    expect(http).toMatchObject({ count: 3, clients: 5 })
    const rest = (await (await fetch(`${node.http}/channels/pool:p1/presence?limit=3&after=${encodeURIComponent(http.next as string)}`)).json()) as Frame
    expect([...(http.members as Frame[]), ...(rest.members as Frame[])].map((m) => m.connection_id)).toEqual(order)
    expect(rest.next).toBeNull()
    expect((await fetch(`${node.http}/channels/pool:p1/presence?limit=0`)).status).toBe(400)
  })
})
