import { afterEach, describe, expect, it } from 'vitest'
import { MemoryHistory } from '../../src/broker/memory-history.js'
import type { ClusterBroker } from '../../src/broker/cluster-broker.js'
import { MemoryBroker } from '../../src/broker/memory-broker.js'
import { MemoryBus } from '../../src/broker/memory-transport.js'
import type { ContextServer } from '../../services/context/index.js'
import type { Frame } from '../helpers/client.js'
import { CliProcess } from '../helpers/cli.js'
import { clusterFormed, startCluster, until } from '../helpers/cluster.js'
import { FlatClient } from '../helpers/flat.js'
import { useBackend } from '../helpers/redis-backends.js'
import { RedisProxy } from '../helpers/redis-proxy.js'
import { startService, type Started } from '../helpers/server.js'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** The context service's own presence defaults (ContextServer.defaults; tests build it without the CLI's defaults). */
const PRESENCE = { presence: [{ channel: 'sessions/{id}', join_leave: true }, { channel: 'topics/{topic}', join_leave: true }] }

const clients: FlatClient[] = []
const procs: CliProcess[] = []
let nodes: Started<ContextServer>[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await Promise.all(nodes.map((n) => n.server.close()))
  nodes = []
  await Promise.all(procs.splice(0).map((p) => p.stop()))
})

async function open(port: number, query: Record<string, string> = {}): Promise<FlatClient> {
  const c = await FlatClient.open(`ws://127.0.0.1:${port}/`, query)
  clients.push(c)
  return c
}

const brokerOf = (n: Started) => n.server.broker as ClusterBroker
/** Resolves once every node's presence book holds `count` subscribers of `channel`. */
const holds = (ns: readonly Started[], channel: string, count: number, timeoutMs = 15_000) =>
  Promise.all(ns.map((n) => until(brokerOf(n), 'presence', () => (n.server.broker.presence.channels().get(channel) ?? 0) === count, timeoutMs, `${count} on ${channel}`)))
const isAgentEvent = (agent: string) => (f: Frame) => f.type === 'event' && (f.event === 'agent.connected' || f.event === 'agent.disconnected') && f.data?.agent_id === agent

/** The tests every pair of instances passes, whatever carries their messages. */
function suite(start: () => Promise<[Started<ContextServer>, Started<ContextServer>]>): void {
  it('presence lists the members of both instances; join and leave reach the other instance once per connection', async () => {
    const [a, b] = await start()
    const alice = await open(a.port, { agent_id: 'alice', session_id: 's1' })
    await holds([a, b], 'sessions/s1', 1)
    const bob = await open(b.port, { agent_id: 'bob', session_id: 's1' })
    const joined = await alice.next((f) => f.type === 'event' && f.event === 'join' && f.channel === 'sessions/s1', 15_000)
    expect(joined.data).toMatchObject({ user_id: 'bob', session_id: 's1', instance: b.server.instanceId })
    await holds([a, b], 'sessions/s1', 2)
    for (const [c, other] of [
      [alice, 'bob'],
      [bob, 'alice'],
    ] as const) {
      const ack = await c.op({ type: 'presence', channel: 'sessions/s1' })
      expect(ack).toMatchObject({ success: true, count: 2, clients: 2, users: 2 })
      const members = ack.members as Frame[]
      expect(members.map((m) => m.user_id).sort()).toEqual(['alice', 'bob'])
      expect(members.find((m) => m.user_id === other)?.instance).toBe((other === 'bob' ? b : a).server.instanceId)
    }
    // Subscribing again is no second join; the other's leave comes once, on the other instance.
    expect(await bob.subscribeFlat('sessions/s1')).toMatchObject({ success: true })
    await bob.close()
    const left = await alice.next((f) => f.type === 'event' && f.event === 'leave' && f.channel === 'sessions/s1', 15_000)
    expect(left.data).toMatchObject({ user_id: 'bob', connection_id: joined.data!.connection_id })
    await holds([a, b], 'sessions/s1', 1)
    expect(await alice.op({ type: 'presence_stats', channel: 'sessions/s1' })).toMatchObject({ clients: 1, users: 1 })
    expect(alice.pending.filter((f) => f.event === 'join' || f.event === 'leave')).toEqual([])
    // Another agent's private channel: refused on either instance.
    const other = await open(b.port, { agent_id: 'mallory' })
    expect(await other.op({ type: 'presence', channel: 'agents/alice' })).toMatchObject({ success: false, code: 'FORBIDDEN' })
    expect(await other.op({ type: 'presence', channel: 'global' })).toMatchObject({ success: false, code: 'PRESENCE_NOT_ENABLED' })
  })

  it('agent.connected and agent.disconnected once per agent across two connections on two instances', async () => {
    const [a, b] = await start()
    const watchers = [await open(a.port), await open(b.port)]
    const first = await open(a.port, { agent_id: 'carol' })
    for (const w of watchers) expect((await w.next(isAgentEvent('carol'), 15_000)).event).toBe('agent.connected')
    await holds([a, b], 'agents/carol', 1)
    const second = await open(b.port, { agent_id: 'carol' })
    await holds([a, b], 'agents/carol', 2)
    await first.close()
    await holds([a, b], 'agents/carol', 1)
    await second.close()
    for (const w of watchers) expect((await w.next(isAgentEvent('carol'), 15_000)).event).toBe('agent.disconnected')
    // Nothing more about carol on either instance once both have seen everything.
    await holds([a, b], 'agents/carol', 0)
    for (const w of watchers) {
      await w.op({ type: 'presence_stats', channel: 'topics/x' })
      expect(w.pending.filter(isAgentEvent('carol'))).toEqual([])
    }
    // GET /channels answers for the cluster: both watchers' global subscriptions, on either instance.
    const list = (await (await fetch(`${a.http}/channels`)).json()) as { channels: Frame[] }
    expect(list.channels).toContainEqual({ channel: 'global', subscribers: 2, presence: false })
  })
}

describe('presence: two instances on a MemoryBus', () => {
  suite(async () => {
    const bus = new MemoryBus()
    const history = new MemoryHistory()
    const brokers = [new MemoryBroker({ bus, history }), new MemoryBroker({ bus, history })]
    nodes = [await startService<ContextServer>('context', PRESENCE, { broker: brokers[0] }), await startService<ContextServer>('context', PRESENCE, { broker: brokers[1] })]
    await Promise.all(brokers.map((br) => until(br, 'peers', () => br.stats().instances === 2)))
    return nodes as [Started<ContextServer>, Started<ContextServer>]
  })
})

describe('presence: two instances over redis', () => {
  const backend = useBackend('redis')
  suite(async () => {
    nodes = await startCluster<ContextServer>('context', backend, 2, PRESENCE)
    await clusterFormed(nodes.map((n) => n.server))
    return nodes as [Started<ContextServer>, Started<ContextServer>]
  })

  it('agent.connected for an agent of an instance whose first presence copy reaches the leader after the agent joined', async () => {
    // The instance `late` starts first (its own copy, sent when it connects, reaches nobody), then
    // the leader (the smaller id): the leader asks late for its copy, and the ask is held on its
    // way to late until dave's join on late has reached the leader. Fresh-clone CI, 2026-12-07.
    const url = new URL((backend.settings('x') as { url: string }).url)
    let holding = true
    const held: (() => void)[] = []
    const proxy = await RedisProxy.start({ port: Number(url.port) }, (client, redis) => {
      client.pipe(redis)
      let stopped = false
      redis.on('data', (chunk: Buffer) => {
        if (holding && (stopped ||= chunk.includes('presence_ask'))) held.push(() => client.write(chunk))
        else client.write(chunk)
      })
    })
    try {
      const prefix = `presence-late-${process.pid}-${Date.now()}:`
      const settings = { ...PRESENCE, allow_client_publish: true }
      const late = await startService<ContextServer>('context', { ...settings, redis: { url: proxy.url, prefix } })
      nodes = [late]
      let leader = await startService<ContextServer>('context', { ...settings, redis: backend.settings(prefix) })
      // The leader is the smaller id: draw again until it is (one in two).
      while (leader.server.instanceId > late.server.instanceId) {
        await leader.server.close()
        leader = await startService<ContextServer>('context', { ...settings, redis: backend.settings(prefix) })
      }
      nodes = [late, leader]
      await clusterFormed([late.server, leader.server])
      const watcher = await open(leader.port, { agent_id: 'eve', session_id: 's9' })
      const dave = await open(late.port, { agent_id: 'dave', session_id: 's9' })
      await watcher.next((f) => f.event === 'join' && f.channel === 'sessions/s9', 15_000)
      // dave's presence change went out on late's connection before this publication: the leader has it.
      expect(await dave.publishFlat('sessions/s9', 'system.info', { message: 'marker' })).toMatchObject({ success: true })
      await watcher.next((f) => f.event === 'system.info' && f.channel === 'sessions/s9', 15_000)
      expect(held.length).toBeGreaterThan(0)
      holding = false
      for (const write of held.splice(0)) write()
      expect((await watcher.next(isAgentEvent('dave'), 15_000)).event).toBe('agent.connected')
      await holds([late, leader], 'agents/dave', 1)
    } finally {
      holding = false
      for (const write of held.splice(0)) write()
      await Promise.all(clients.splice(0).map((c) => c.close()))
      await Promise.all(nodes.map((n) => n.server.close()))
      nodes = []
      await proxy.close()
    }
  }, 60_000)

  it('a SIGKILLed instance’s members vanish within the stated bound (8 s), with a leave and agent.disconnected for each', async () => {
    const prefix = `presence-${process.pid}-${Date.now()}:`
    const dir = mkdtempSync(join(tmpdir(), 'roomcast-presence-'))
    writeFileSync(join(dir, 'context.yaml'), 'port: 0\nmcp:\n  enabled: false\n')
    // The CLI applies the context service's own defaults: presence on sessions/{id} with join/leave.
    const proc = new CliProcess(['serve', 'context'], { ...backend.env(), ROOMCAST_SETTINGS_DIR: dir, REDIS_PUBSUB_PREFIX: prefix })
    procs.push(proc)
    const victimPort = await proc.port('context')
    const survivor = await startService<ContextServer>('context', { ...PRESENCE, redis: backend.settings(prefix) })
    nodes = [survivor]
    // Both instances, and the survivor's every-room subscription confirmed: dave's join comes from the victim.
    await clusterFormed([survivor.server], 2)
    const watcher = await open(survivor.port, { agent_id: 'eve', session_id: 's9' })
    await open(victimPort, { agent_id: 'dave', session_id: 's9' })
    const joined = await watcher.next((f) => f.event === 'join' && f.channel === 'sessions/s9', 15_000)
    expect((await watcher.next(isAgentEvent('dave'), 15_000)).event).toBe('agent.connected')
    await holds([survivor], 'sessions/s9', 2)

    await proc.signal('SIGKILL')
    const killedAt = Date.now()
    // The stated bound is the cluster's expiry (6 s) plus one heartbeat (2 s): on a responsive host
    // they vanish within it; the wait here is only a safety bound for a host at load 25+.
    await holds([survivor], 'sessions/s9', 1, 60_000)
    const vanishedIn = Date.now() - killedAt
    const left = await watcher.next((f) => f.event === 'leave' && f.channel === 'sessions/s9', 15_000)
    expect(left.data).toEqual(joined.data)
    expect((await watcher.next(isAgentEvent('dave'), 15_000)).event).toBe('agent.disconnected')
    expect((await watcher.op({ type: 'presence', channel: 'sessions/s9' })).members).toEqual([expect.objectContaining({ user_id: 'eve' })])
    // Not sooner than the expiry: the members went by the instance's silence, not a goodbye.
    expect(vanishedIn).toBeGreaterThan(3_000)
  }, 120_000)
})
