import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { redisNames } from '../../src/broker/redis-channels.js'
import type { Frame } from '../helpers/client.js'
import { cliProcesses, PROCESS_TEST_TIMEOUT, settingsWriter } from '../helpers/cli.js'
import { FlatClient } from '../helpers/flat.js'
import { TestRedis } from '../helpers/redis.js'

/**
 * Presence messages on the cluster channel from someone who can PUBLISH on Redis but is no
 * instance (docs/protocol.md A.10, docs/scaling.md "Who may publish on the cluster channel"):
 * the instance is a real `roomcast serve context` process, so a crash shows as its exit and a
 * hang as a request it never answers.
 */

/** A request's safety bound: the instance answers these in milliseconds (measured 5–170 ms at load 15). */
const ANSWER_MS = 10_000

let redis: TestRedis
let raw: Redis
beforeAll(async () => {
  redis = await TestRedis.start()
  raw = new Redis(redis.url)
})
afterAll(async () => {
  raw?.disconnect()
  await redis?.kill()
})

const clients: FlatClient[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
})
const cli = cliProcesses()

/** A context service on the test Redis under a prefix of its own; its port, and how to speak as a fake instance on its cluster channel. */
async function victim(): Promise<{ port: number; http: string; exited: () => boolean; say: (origin: string, msg: Record<string, unknown>) => Promise<void> }> {
  const prefix = `hostile-${process.pid}-${Date.now()}:`
  const settings = settingsWriter('roomcast-hostile-')
  settings.write('context.yaml', 'port: 0\nmcp:\n  enabled: false\n')
  const proc = cli(['serve', 'context'], { REDIS_URL: redis.url, REDIS_PUBSUB_PREFIX: prefix, ROOMCAST_SETTINGS_DIR: settings.dir, LOG_FORMAT: 'json' })
  const port = await proc.port('context')
  const channel = redisNames(prefix, 'context').cluster
  return {
    port,
    http: `http://127.0.0.1:${port}`,
    exited: () => proc.proc.exitCode !== null || proc.proc.signalCode !== null,
    say: async (origin, msg) => {
      await raw.publish(channel, JSON.stringify({ v: 1, origin, ...msg }))
    },
  }
}

async function open(port: number, query: Record<string, string>): Promise<FlatClient> {
  const c = await FlatClient.open(`ws://127.0.0.1:${port}/`, query)
  clients.push(c)
  return c
}

async function getJson(url: string): Promise<Record<string, unknown>> {
  const res = await fetch(url, { signal: AbortSignal.timeout(ANSWER_MS) })
  return (await res.json()) as Record<string, unknown>
}

const leaveOf = (connectionId: string) => (f: Frame) => f.type === 'event' && f.event === 'leave' && (f.data as Frame | undefined)?.connection_id === connectionId

describe('presence messages from a hostile publisher on the cluster channel', () => {
  it(
    'a member whose connected_at is no date is refused as malformed: the instance outlives the fake instance’s expiry',
    async () => {
      const v = await victim()
      const watcher = await open(v.port, { agent_id: 'eve', session_id: 's1' })
      const now = Date.now()
      // 8.7e15 ms is a safe integer but past the last date JavaScript has (8.64e15): toISOString throws.
      await v.say('evil-a', { type: 'heartbeat', connections: 1, presence: 0 })
      await v.say('evil-a', { type: 'presence_sync', seq: 0, channels: [['sessions/s1', 1, [['ws_evil', 'mallory', 's1', 8.7e15]]]] })
      // A well-formed fake instance beside it: its member's leave, when it expires, is the event to wait on.
      await v.say('evil-b', { type: 'heartbeat', connections: 1, presence: 0 })
      await v.say('evil-b', { type: 'presence_sync', seq: 0, channels: [['sessions/s1', 1, [['ws_good', 'trudy', 's1', now]]]] })
      // Both stop beating now: the instance drops them at its expiry (6 s, checked every 2 s).
      const left = await watcher.next(leaveOf('ws_good'), 60_000)
      expect(left.data).toMatchObject({ user_id: 'trudy', connected_at: new Date(now).toISOString() })
      expect(v.exited()).toBe(false)
      await watcher.pingFlat()
      const members = (await watcher.op({ type: 'presence', channel: 'sessions/s1' })).members as Frame[]
      expect(members.map((m) => m.user_id)).toEqual(['eve'])
      const health = await getJson(`${v.http}/health`)
      expect((health.bridge as Frame).malformed).toBeGreaterThanOrEqual(1)
    },
    PROCESS_TEST_TIMEOUT,
  )

  it(
    'a whole copy claiming 10^12 subscribers of a channel costs one step: the instance keeps answering, and forgets them with the fake instance',
    async () => {
      const v = await victim()
      const watcher = await open(v.port, { agent_id: 'eve', session_id: 's2' })
      await v.say('evil-c', { type: 'heartbeat', connections: 1, presence: 0 })
      await v.say('evil-c', { type: 'presence_sync', seq: 0, channels: [['global', 1e12, null]] })
      // Heard in the order sent: once the second fake instance's member shows, the first copy was taken.
      await v.say('evil-d', { type: 'heartbeat', connections: 1, presence: 0 })
      await v.say('evil-d', { type: 'presence_sync', seq: 0, channels: [['sessions/s2', 1, [['ws_d', 'trudy', 's2', Date.now()]]]] })
      const counts = async () => {
        const list = (await getJson(`${v.http}/channels`)).channels as { channel: string; subscribers: number }[]
        return Object.fromEntries(list.map((c) => [c.channel, c.subscribers]))
      }
      let seen = await counts()
      while (seen['sessions/s2'] !== 2) seen = await counts()
      expect(seen.global).toBe(1e12 + 1)
      await watcher.pingFlat()
      // Both fake instances stop beating: their subscribers go with them, in one step too.
      await watcher.next(leaveOf('ws_d'), 60_000)
      seen = await counts()
      expect(seen).toEqual({ global: 1, 'sessions/s2': 1, 'agents/eve': 1 })
      expect(v.exited()).toBe(false)
    },
    PROCESS_TEST_TIMEOUT,
  )
})
