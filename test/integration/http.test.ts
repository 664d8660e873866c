import { request as httpRequest } from 'node:http'
import { networkInterfaces } from 'node:os'
import { afterEach, describe, expect, it } from 'vitest'
import { TestClient } from '../helpers/client.js'
import { startService, type Started } from '../helpers/server.js'

const json = async (res: Response) => ({ status: res.status, body: (await res.json()) as Record<string, unknown> })

const post = (base: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  }).then(json)

/** A non-loopback IPv4 address of this machine, if it has one. */
const externalAddress = Object.values(networkInterfaces())
  .flat()
  .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address

describe('HTTP on the service port (docs/protocol.md A.5, E)', () => {
  let s: Started
  afterEach(async () => s?.server.close())

  it('GET /health answers the service, port, clients and channels', async () => {
    s = await startService('workflow')
    const c = await TestClient.connect(s.url)
    await c.subscribe('global')
    const { status, body } = await json(await fetch(`${s.http}/health`))
    expect(status).toBe(200)
    expect(body).toMatchObject({ status: 'healthy', type: 'websocket', service: 'workflow', port: s.port, connectedClients: 1, activeChannels: 1, channelStats: { global: 1 } })
    expect(Object.keys(body)).toEqual(expect.arrayContaining(['uptime', 'timestamp']))
    await c.close()
  })

  it('GET /stats counts connections, channels, messages and errors', async () => {
    s = await startService('workflow')
    const c = await TestClient.connect(s.url)
    await c.subscribe('global')
    await c.errorFor('nonsense')
    const { body } = await json(await fetch(`${s.http}/stats`))
    expect(body).toMatchObject({ service: 'workflow', connections: { current: 1, total: 1, max: 1000 }, channels: { global: 1 }, errors: { DECODE_ERROR: 1 }, pending_deliveries: 0 })
    expect((body.messages as { in: number }).in).toBe(2)
    await c.close()
  })

  it('GET /ws/info lists clients with their subscriptions, and channels', async () => {
    s = await startService('workflow')
    const c = new TestClient(s.url)
    const welcome = await c.next()
    await c.subscribe('workflow:w1')
    const { body } = await json(await fetch(`${s.http}/ws/info`))
    expect(body.channels).toEqual({ 'workflow:w1': 1 })
    expect(body.clients).toEqual([expect.objectContaining({ id: welcome.data!.connection_id, subscriptions: ['workflow:w1'], user_id: null })])
    await c.close()
  })

  it('POST /publish delivers to subscribers and answers {id, delivered, instances}', async () => {
    s = await startService('workflow')
    const c = await TestClient.connect(s.url)
    await c.subscribe('workflow:w1')
    const { status, body } = await post(s.http, '/publish', { channel: 'workflow:w1', event: 'workflow.started', data: { workflow_id: 'w1' } })
    expect(status).toBe(200)
    expect(body).toEqual({ id: expect.any(String), delivered: 1, instances: 1 })
    expect(await c.next()).toMatchObject({ id: body.id, event: 'workflow.started', room: 'workflow:w1', data: { workflow_id: 'w1' } })
    await c.close()
  })

  it('POST /send delivers a direct event to one connection; an unknown connection is 404', async () => {
    s = await startService('workflow')
    const c = new TestClient(s.url)
    const id = (await c.next()).data!.connection_id
    const { status, body } = await post(s.http, '/send', { connection_id: id, event: 'note', data: { hello: 'you' } })
    expect(status).toBe(200)
    expect(body).toEqual({ delivered: true, forwarded: false })
    expect(await c.next()).toMatchObject({ type: 'event', event: 'note', room: null, data: { hello: 'you' } })
    expect(await post(s.http, '/send', { connection_id: 'nobody', event: 'note', data: {} })).toEqual({ status: 404, body: { error: 'No connection nobody', code: 'NOT_FOUND' } })
    const deep = await post(s.http, '/send', `{"connection_id":"${String(id)}","event":"note","data":{"d":${'['.repeat(300_000)}${']'.repeat(300_000)}}}`)
    expect(deep).toEqual({ status: 400, body: { error: "Field 'data' is nested deeper than 63 levels", code: 'INVALID_PARAMS' } })
    await c.alive()
    await c.close()
  })

  const badBodies: [string, string, unknown, Record<string, string>, number, string, RegExp][] = [
    ['invalid JSON', '/publish', '{"channel":', {}, 400, 'INVALID_PARAMS', /JSON/],
    ['an empty body', '/publish', '', {}, 400, 'INVALID_PARAMS', /empty/i],
    ['a JSON array', '/publish', [1, 2], {}, 400, 'INVALID_PARAMS', /must be a JSON object/],
    ['no channel', '/publish', { event: 'workflow.started', data: {} }, {}, 400, 'INVALID_PARAMS', /'channel'/],
    ['data not an object', '/publish', { channel: 'workflow:w1', event: 'workflow.started', data: 'x' }, {}, 400, 'INVALID_PARAMS', /'data'/],
    ['an unknown channel', '/publish', { channel: 'nope', event: 'workflow.started', data: {} }, {}, 400, 'INVALID_CHANNEL', /Unknown channel: nope/],
    ['an undeclared event', '/publish', { channel: 'workflow:w1', event: 'x.y', data: {} }, {}, 400, 'INVALID_EVENT', /Unknown event: x\.y/],
    ['a payload failing its schema', '/publish', { channel: 'workflow:w1', event: 'workflow.started', data: {} }, {}, 400, 'INVALID_EVENT', /workflow_id/],
    ['a payload nested 100 levels', '/publish', `{"channel":"workflow:w1","event":"workflow.started","data":{"workflow_id":"w","d":${'['.repeat(100)}${']'.repeat(100)}}}`, {}, 400, 'INVALID_EVENT', /nested deeper/],
    ['text/plain', '/publish', 'channel=workflow:w1', { 'content-type': 'text/plain' }, 415, 'INVALID_PARAMS', /application\/json/],
    ['no connection_id', '/send', { event: 'note', data: {} }, {}, 400, 'INVALID_PARAMS', /'connection_id'/],
    ['data nested 300,000 levels', '/send', `{"connection_id":"x","event":"note","data":{"d":${'['.repeat(300_000)}${']'.repeat(300_000)}}}`, {}, 400, 'INVALID_PARAMS', /nested deeper than 63 levels/],
  ]

  it.each(badBodies)('a body with %s on %s → its status and a clear message', async (_what, path, body, headers, status, code, message) => {
    s = await startService('workflow')
    const res = await post(s.http, path, body, headers)
    expect(res.status).toBe(status)
    expect(res.body.code).toBe(code)
    expect(res.body.error).toMatch(message)
    expect(s.server.stats.broadcasts).toBe(0)
  })

  it('with api_key: no or a wrong Bearer key → 401; the right key → 200', async () => {
    s = await startService('workflow', { api_key: 'k-0123456789' })
    const body = { channel: 'workflow:w1', event: 'workflow.started', data: { workflow_id: 'w1' } }
    const none = await post(s.http, '/publish', body)
    expect(none).toEqual({ status: 401, body: { error: 'Missing or invalid API key (Authorization: Bearer <key>)', code: 'AUTH_FAILED' } })
    expect((await post(s.http, '/publish', body, { authorization: 'Bearer wrong-key-00' })).status).toBe(401)
    expect((await post(s.http, '/publish', body, { authorization: 'k-0123456789' })).status).toBe(401)
    expect((await post(s.http, '/send', { connection_id: 'x', event: 'e' })).status).toBe(401)
    // The key is checked before the body is read: a stranger's body is never parsed.
    expect((await post(s.http, '/publish', '{"not json')).status).toBe(401)
    expect((await post(s.http, '/publish', 'x', { 'content-type': 'text/plain' })).status).toBe(401)
    expect((await post(s.http, '/publish', body, { authorization: 'Bearer k-0123456789' })).status).toBe(200)
  })

  it.skipIf(externalAddress === undefined)('without api_key a non-loopback caller → 403; with the key it may publish', async () => {
    s = await startService('workflow', { host: '0.0.0.0' })
    const base = `http://${externalAddress}:${s.port}`
    const body = { channel: 'workflow:w1', event: 'workflow.started', data: { workflow_id: 'w1' } }
    expect(await post(base, '/publish', body)).toEqual({
      status: 403,
      body: { error: 'Without an api_key setting this route is served to loopback callers only', code: 'FORBIDDEN' },
    })
    expect((await json(await fetch(`${base}/health`))).status).toBe(200)
    await s.server.close()
    s = await startService('workflow', { host: '0.0.0.0', api_key: 'k-0123456789' })
    expect((await post(`http://${externalAddress}:${s.port}`, '/publish', body, { authorization: 'Bearer k-0123456789' })).status).toBe(200)
  })

  it('GET / and /ws without an upgrade → 426 Upgrade Required', async () => {
    s = await startService('workflow')
    for (const path of ['/', '/ws']) {
      const res = await fetch(`${s.http}${path}`)
      expect(res.status).toBe(426)
      expect(res.headers.get('upgrade')).toBe('websocket')
      expect(await res.json()).toMatchObject({ error: expect.stringMatching(/WebSocket/) })
    }
  })

  it('an unknown route → 404 NOT_FOUND in JSON', async () => {
    s = await startService('workflow')
    expect(await json(await fetch(`${s.http}/nope`))).toEqual({ status: 404, body: { error: 'No route GET /nope', code: 'NOT_FOUND' } })
  })

  it('a body over max_payload → 413', async () => {
    s = await startService('workflow', { max_payload: 1024 })
    const res = await post(s.http, '/publish', { channel: 'workflow:w1', event: 'workflow.started', data: { workflow_id: 'x'.repeat(2000) } })
    expect(res.status).toBe(413)
  })

  it('a POST without a body or content type → 400 naming what is expected', async () => {
    s = await startService('workflow')
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${s.http}/publish`, { method: 'POST' }, (r) => {
        let body = ''
        r.on('data', (d) => (body += d))
        r.on('end', () => resolve({ status: r.statusCode!, body }))
      })
      req.on('error', reject)
      req.end()
    })
    expect(res.status).toBe(400)
    expect(JSON.parse(res.body)).toMatchObject({ code: 'INVALID_PARAMS', error: expect.stringMatching(/must be a JSON object/) })
  })
})
