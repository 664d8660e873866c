import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { readFileSync } from 'node:fs'
import { TestClient } from '../helpers/client.js'
import { FlatClient } from '../helpers/flat.js'
import { startDeclared, type Started } from '../helpers/server.js'
import { ROOT } from '../helpers/supervisor.js'

/** A shipped settings file's text, the way `roomcast serve <name>` reads it. */
const shipped = (name: string) => readFileSync(join(ROOT, 'settings', `${name}.yaml`), 'utf8')

let s: Started | undefined
const clients: TestClient[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await s?.server.close()
  s = undefined
})

function postPublish(body: unknown): Promise<Response> {
  return fetch(`${s!.http}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
}

describe('a service declared in YAML alone (settings `service:` block)', () => {
  it('dhruva (envelope): its channels, its JSON Schemas refusing bad data with the field path, its lookups', async () => {
    s = await startDeclared(shipped('dhruva'))
    const c = await TestClient.connect(s.url, { welcome: false })
    clients.push(c)
    expect(await c.next((f) => f.event === 'session.created')).toMatchObject({ data: { server: 'dhruva', message: 'Connected to Dhruva' } })
    expect(await c.subscribe('asset:a1')).toMatchObject({ type: 'response', data: { status: 'subscribed', channel: 'asset:a1' } })

    const refused = await postPublish({ channel: 'asset:a1', event: 'asset.stored', data: { asset_id: 'a1', size: -1 } })
    expect(refused.status).toBe(400)
    const body = (await refused.json()) as { code: string; error: string }
    expect(body.code).toBe('INVALID_EVENT')
    expect(body.error).toMatch(/^asset\.stored: .*size/)
    const nested = await postPublish({ channel: 'adapter:x', event: 'adapter.health_changed', data: { adapter_id: 'x', status: 'on fire' } })
    expect(((await nested.json()) as { error: string }).error).toMatch(/status/)
    expect((await postPublish({ channel: 'asset:a1', event: 'no.such', data: {} })).status).toBe(400)

    expect((await postPublish({ channel: 'asset:a1', event: 'asset.stored', data: { asset_id: 'a1', size: 10 } })).status).toBe(200)
    expect(await c.next((f) => f.type === 'event' && f.event === 'asset.stored')).toMatchObject({ room: 'asset:a1', data: { asset_id: 'a1', size: 10 } })
    const answer = await c.request('get_asset_status', { asset_id: 'a1' })
    expect(answer).toMatchObject({ type: 'response', data: { asset_id: 'a1', event: 'asset.stored', channel: 'asset:a1', data: { size: 10 } } })
    await postPublish({ channel: 'asset:a1', event: 'asset.deleted', data: { asset_id: 'a1' } })
    expect(await c.request('get_asset_status', { asset_id: 'a1' })).toMatchObject({ data: { asset_id: 'a1', event: 'asset.deleted' } })
    expect(await c.request('get_asset_status', { asset_id: 'nope' })).toMatchObject({ data: { asset_id: 'nope', status: 'not_found' } })
    expect(await c.request('get_asset_status', {})).toMatchObject({ type: 'error', error_code: 'INVALID_PARAMS' })
  })

  it('dhruva: a private channel is its user\'s alone, a history channel recovers', async () => {
    s = await startDeclared(shipped('dhruva'))
    const c = await TestClient.connect(s.url)
    clients.push(c)
    expect(await c.subscribe('owner:someone')).toMatchObject({ type: 'error' })
    expect(s.server.history.optionsOf('asset:a1')).not.toBeNull()
    expect(s.server.history.optionsOf('global')).toBeNull()
  })

  it('excalidraw (flat): flat frames, a schema refusal naming the field, a lookup', async () => {
    s = await startDeclared(shipped('excalidraw'))
    const c = await FlatClient.open(s.url, { agent_id: 'artist' })
    clients.push(c)
    expect(c.connected).toMatchObject({ type: 'connected' })
    expect(await c.subscribeFlat('scene/s1')).toMatchObject({ success: true })
    const bad = await c.publishFlat('scene/s1', 'pointer.moved', { scene_id: 's1', x: 'left', y: 2 })
    expect(bad).toMatchObject({ success: false, code: 'INVALID_EVENT' })
    expect(String(bad.error)).toMatch(/pointer\.moved: .*\bx\b/)
    expect(await c.publishFlat('scene/s1', 'scene.updated', { scene_id: 's1', elements: [], version: 3 })).toMatchObject({ success: true })
    expect(await c.event('scene.updated', 'scene/s1')).toMatchObject({ data: { scene_id: 's1', version: 3 } })
    expect(await c.publishFlat('elsewhere', 'scene.updated', { scene_id: 's1', elements: [] })).toMatchObject({ success: false })
  })

  it('the shipped files are valid declarations on the well-known ports', () => {
    expect(parseYaml(shipped('dhruva'))).toMatchObject({ port: 8693, service: { name: 'dhruva', dialect: 'envelope' } })
    expect(parseYaml(shipped('excalidraw'))).toMatchObject({ port: 3042, service: { name: 'excalidraw', dialect: 'flat' } })
  })
})
