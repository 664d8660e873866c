import { afterEach, describe, expect, it } from 'vitest'
import type { SettingsInput } from '../../src/index.js'
import { FlatClient } from '../helpers/flat.js'
import { startService, type Started } from '../helpers/server.js'

let s: Started | undefined
const clients: FlatClient[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await s?.server.close()
  s = undefined
})

/** The context service with alice (agents/alice, sessions/s-alice) and bob (agents/bob) connected. */
async function startWithAgents(settings: SettingsInput): Promise<Started> {
  s = await startService('context', settings)
  for (const [agent, session] of [
    ['alice', 's-alice'],
    ['bob', 's-bob'],
  ] as const) {
    const c = await FlatClient.open(s.url, { agent_id: agent, session_id: session })
    clients.push(c)
    await c.subscribeFlat('topics/deploys')
  }
  return s
}

async function health(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/health`, { headers })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

const FULL = { global: 2, 'agents/alice': 1, 'agents/bob': 1, 'sessions/s-alice': 1, 'sessions/s-bob': 1, 'topics/deploys': 2 }
// Every parameterised channel is summed under its pattern, parameters as `*`: no identity, session or topic named.
const AGGREGATED = { global: 2, 'agents/*': 2, 'sessions/*': 2, 'topics/*': 2 }

describe('GET /health names no private channel to a caller without credentials', () => {
  it('behind trust_proxy, a non-loopback client address sees channels by pattern; a loopback caller (no api_key) sees each channel', async () => {
    const started = await startWithAgents({ trust_proxy: true })
    const outside = await health(started.http, { 'x-forwarded-for': '203.0.113.7' })
    expect(outside.status).toBe(200)
    expect(outside.body).toMatchObject({ status: 'healthy', connectedClients: 2, activeChannels: 6 })
    expect(outside.body.channelStats).toEqual(AGGREGATED)
    expect(JSON.stringify(outside.body)).not.toMatch(/alice|bob/)
    expect((await health(started.http)).body.channelStats).toEqual(FULL)
    expect((await health(started.http, { 'x-forwarded-for': '127.0.0.1' })).body.channelStats).toEqual(FULL)
  })

  it('with an api_key, only the Bearer key shows each channel, loopback or not', async () => {
    const started = await startWithAgents({ api_key: 'k-0123456789', trust_proxy: true })
    expect((await health(started.http)).body.channelStats).toEqual(AGGREGATED)
    expect((await health(started.http, { authorization: 'Bearer wrong-key-00' })).body.channelStats).toEqual(AGGREGATED)
    expect((await health(started.http, { authorization: 'Bearer k-0123456789' })).body.channelStats).toEqual(FULL)
    const forwarded = { authorization: 'Bearer k-0123456789', 'x-forwarded-for': '203.0.113.7' }
    expect((await health(started.http, forwarded)).body.channelStats).toEqual(FULL)
  })
})
