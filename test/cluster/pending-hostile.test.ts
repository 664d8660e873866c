import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { Cluster, Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { redisClusterNames, redisNames } from '../../src/broker/redis-channels.js'
import type { ContextServer } from '../../services/context/index.js'
import { BACKENDS, type SharedBackend, useBackend } from '../helpers/redis-backends.js'
import { startService, type Started } from '../helpers/server.js'

/**
 * The durable record of pending tracked deliveries (docs/protocol.md A.8, "What survives what")
 * as someone with access to Redis may leave it: garbage beside a good entry. The instance an
 * agent connects to adopts the record; what it cannot read is skipped and logged, never sent.
 */

let node: Started<ContextServer> | undefined
const sockets: WebSocket[] = []
afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate()
  await node?.server.close()
  node = undefined
})

/** A raw socket of agent `id`: every text it receives, as received (a frame that is not JSON too). */
async function agent(port: number, id: string): Promise<{ texts: string[]; next: (pred: (t: string) => boolean) => Promise<string>; send: (f: unknown) => void }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/?agent_id=${encodeURIComponent(id)}`)
  sockets.push(ws)
  const texts: string[] = []
  const waiters: { pred: (t: string) => boolean; resolve: (t: string) => void }[] = []
  ws.on('message', (data: Buffer) => {
    const text = data.toString()
    texts.push(text)
    const i = waiters.findIndex((w) => w.pred(text))
    if (i >= 0) waiters.splice(i, 1)[0]?.resolve(text)
  })
  await once(ws, 'open')
  const next = (pred: (t: string) => boolean) => {
    const seen = texts.find(pred)
    if (seen !== undefined) return Promise.resolve(seen)
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not received; got ${JSON.stringify(texts)}`)), 15_000)
      waiters.push({ pred, resolve: (t) => (clearTimeout(timer), resolve(t)) })
    })
  }
  return { texts, next, send: (f) => ws.send(JSON.stringify(f)) }
}

/**
 * A context service on `redis` (tracking its own `message.*`, the CLI's default; a test builds it
 * without them) adopts `agentId`'s record when the agent connects: only `msg_ok` reaches it, every
 * `msg_g*` entry is skipped, and nothing that is not JSON reaches the socket.
 */
async function adoptsOnlyTheGoodOne(redis: ReturnType<SharedBackend['settings']>, agentId: string): Promise<void> {
  node = await startService<ContextServer>('context', { redis, delivery: { tracked: ['message.*'] } })
  const a = await agent(node.port, agentId)
  const got = await a.next((t) => t.includes('"msg_ok"'))
  expect(JSON.parse(got)).toMatchObject({ type: 'event', id: 'msg_ok', event: 'message.new' })
  // A round trip after it: anything sent in the same adoption has arrived by now.
  a.send({ type: 'ping', timestamp: 42 })
  await a.next((t) => t.includes('"pong"'))
  for (const text of a.texts) expect(() => JSON.parse(text) as unknown).not.toThrow()
  expect(a.texts.filter((t) => t.includes('msg_g'))).toEqual([])
  expect(node.server.delivery.tracker.stats().adopted).toBe(1)
}

const frame = (id: string, agentId: string) => JSON.stringify({ type: 'event', id, channel: `agents/${agentId}`, event: 'message.new', data: { content: id }, timestamp: 1 })

describe.each(BACKENDS)('a durable pending record holding garbage (written by someone with access to Redis), on %s', (kind) => {
  const backend = useBackend(kind)
  /** A client of the backend itself, and the names of the service's keys under `prefix`. */
  const direct = (prefix: string) => {
    const settings = backend.settings(prefix)
    if ('url' in settings) return { raw: new Redis(settings.url), names: redisNames(prefix, 'context') }
    const nodes = settings.cluster.map((a) => ({ host: a.split(':')[0] as string, port: Number(a.split(':')[1]) }))
    return { raw: new Cluster(nodes), names: redisClusterNames(prefix, 'context') }
  }
  // Hash tag characters in the id: on a Redis Cluster the record's two keys must still share a slot.
  for (const agentId of ['zed', '{zed}', 'z}e{d', 'a'.repeat(200)]) {
    it(`is adopted for what it holds that can be read, the rest skipped: agent ${agentId.length > 20 ? `of ${agentId.length} characters` : agentId}`, async () => {
      const prefix = `pending-hostile-${randomUUID().slice(0, 8)}:`
      const { raw, names } = direct(prefix)
      const key = names.pending(agentId).entries
      const now = Date.now() * 1000
      await raw.hset(key, {
        // Unreadable: no newlines, a bad order, no attempts, no event, a one-character text.
        'msg_g1': 'garbage',
        'msg_g2': `x 1\nmessage.new\n${frame('msg_g2', agentId)}`,
        'msg_g3': `${now} 0\nmessage.new\n${frame('msg_g3', agentId)}`,
        'msg_g4': `${now} 1\n\n${frame('msg_g4', agentId)}`,
        'msg_g5': `${now} 1\nmessage.new\n{`,
        // Readable, but not a frame a client could parse: it must not reach the socket.
        'msg_g6': `${now + 1} 1\nmessage.new\nnot json at all`,
        'msg_g7': `${now + 2} 1\nmessage.new\n[1,2]`,
        // A reference to a frame key that does not exist (gone with its expiry).
        'msg_g8': `${now + 3} 1\nmessage.new\n`,
        // The good one, last in order: everything above would have gone out before it.
        'msg_ok': `${now + 10} 1\nmessage.new\n${frame('msg_ok', agentId)}`,
      })
      await raw.pexpire(key, 60_000)
      raw.disconnect()
      await adoptsOnlyTheGoodOne(backend.settings(prefix), agentId)
    })
  }
})

// One Redis keeps the record per event (pending-scripts.ts): garbage there, found through the
// identity's inbox and the index of an instance its where set names.
describe('a durable per-event record holding garbage, on redis', () => {
  const backend = useBackend('redis')
  for (const agentId of ['zed', 'z}e{d', 'a'.repeat(200)]) {
    it(`is adopted for what it holds that can be read, the rest skipped: agent ${agentId.length > 20 ? `of ${agentId.length} characters` : JSON.stringify(agentId)}`, async () => {
      const prefix = `pending-hostile-${randomUUID().slice(0, 8)}:`
      const settings = backend.settings(prefix)
      if (!('url' in settings)) throw new Error('one Redis expected')
      const raw = new Redis(settings.url)
      const keys = redisNames(prefix, 'context').pendingByEvent
      if (keys === undefined) throw new Error('one Redis keeps the record per event')
      const now = Date.now() * 1000
      const events: Record<string, string | null> = {
        // Unreadable: no newline, a bad order, no event, no text.
        msg_g1: 'garbage',
        msg_g2: `x message.new\n${frame('msg_g2', agentId)}`,
        msg_g3: `${now} \n${frame('msg_g3', agentId)}`,
        msg_g4: `${now} message.new\n`,
        // Readable, but not a frame a client could parse: it must not reach the socket.
        msg_g5: `${now + 1} message.new\nnot json at all`,
        msg_g6: `${now + 2} message.new\n[1,2]`,
        // Good frames with unreadable attempts.
        msg_g7: `${now + 3} message.new\n${frame('msg_g7', agentId)}`,
        msg_g8: `${now + 4} message.new\n${frame('msg_g8', agentId)}`,
        // Gone with its expiry: its recipients remain.
        msg_g9: null,
        // The good one, last in order: everything above would have gone out before it.
        msg_ok: `${now + 10} message.new\n${frame('msg_ok', agentId)}`,
      }
      for (const [id, value] of Object.entries(events)) {
        if (value !== null) await raw.set(`${keys.event}${id}`, value, 'PX', 60_000)
        await raw.sadd(`${keys.to}${id}`, agentId)
        await raw.pexpire(`${keys.to}${id}`, 60_000)
      }
      await raw.hset(`${keys.tries}msg_g7`, agentId, 'abc')
      await raw.hset(`${keys.tries}msg_g8`, agentId, '0')
      // Half through the inbox, half through an instance's index (its name any text).
      const ids = Object.keys(events)
      await raw.zadd(`${keys.inbox}${agentId}`, ...ids.slice(0, 5).flatMap((id) => [1, id]))
      await raw.zadd(`${keys.index}in\nst {x}`, ...ids.slice(5).flatMap((id) => [1, id]))
      await raw.sadd(`${keys.where}${agentId}`, 'in\nst {x}', 'no-such-instance')
      raw.disconnect()
      await adoptsOnlyTheGoodOne(settings, agentId)
    })
  }
})
