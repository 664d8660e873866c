import { describe, expect, it, vi } from 'vitest'
import { decodeClusterMessage, heartbeatMessage, publicationMessage } from '../../src/broker/cluster-messages.js'
import { ClusterView } from '../../src/broker/cluster-view.js'
import { ClusterPresence } from '../../src/broker/cluster-presence.js'
import { DirectAcks } from '../../src/broker/direct-acks.js'
import { redisNames } from '../../src/broker/redis-channels.js'
import { redactUrl } from '../../src/broker/redis-connection.js'
import { loadSettings, SettingsError } from '../../src/index.js'

describe('cluster messages', () => {
  const pub = { id: 'e1', channel: 'workflow:w1', event: 'workflow.started', data: { workflow_id: 'w1' }, timestamp: '2026-01-01T00:00:00.000Z' }

  it('round-trips what an instance sends', () => {
    expect(decodeClusterMessage(publicationMessage('i1', pub))).toEqual({ v: 1, type: 'publication', origin: 'i1', pub })
    expect(decodeClusterMessage(heartbeatMessage('i2', 3))).toEqual({ v: 1, type: 'heartbeat', origin: 'i2', connections: 3 })
  })

  it('returns null, never throws, for anything else', () => {
    for (const raw of ['', 'null', '[]', '{"v":1}', 'not json', JSON.stringify({ v: 2, type: 'heartbeat', origin: 'x', connections: 1 }),
      JSON.stringify({ v: 1, type: 'publication', pub }), JSON.stringify({ v: 1, type: 'publication', origin: 'x', pub: { ...pub, data: [] } }),
      JSON.stringify({ v: 1, type: 'heartbeat', origin: 'x', connections: -1 })]) {
      expect(decodeClusterMessage(raw), raw).toBeNull()
    }
  })
})

describe('redis channel names', () => {
  it('are built from the prefix and the service', () => {
    const n = redisNames('roomcast:', 'workflow')
    expect(n.room('workflow:w1')).toBe('roomcast:workflow:room:workflow:w1')
    expect(n.allRooms).toBe('roomcast:workflow:room:*')
    expect([n.direct, n.cluster]).toEqual(['roomcast:workflow:direct', 'roomcast:workflow:cluster'])
    expect(redisNames('a*b:', 's').allRooms).toBe('a\\*b:s:room:*')
  })
})

describe('cluster view', () => {
  it('counts itself and peers heard within the expiry, and their connections', () => {
    let now = 0
    const view = new ClusterView(6000, () => now)
    expect([view.instances(), view.connections(4)]).toEqual([1, 4])
    expect(view.heard('b', 2)).toBe(true)
    expect(view.heard('b', 3)).toBe(false)
    view.heard('c', 5)
    expect([view.instances(), view.connections(4)]).toEqual([3, 12])
    now = 5999
    view.heard('c', 5)
    now = 6000
    expect([view.instances(), view.connections(4)]).toEqual([2, 9])
    view.left('c')
    expect(view.instances()).toBe(1)
    expect(view.heard('b', 1)).toBe(true)
  })
})

describe('direct message answers', () => {
  it('settle remote on the first found, unknown when every peer missed or after the timeout', async () => {
    vi.useFakeTimers()
    try {
      const acks = new DirectAcks(1000)
      const found = acks.expect('m1', 3)
      acks.answer('m1', false)
      acks.answer('m1', true)
      expect(await found).toBe('remote')
      const missed = acks.expect('m2', 2)
      acks.answer('m2', false)
      acks.answer('m2', false)
      expect(await missed).toBe('unknown')
      const silent = acks.expect('m3', 2)
      acks.answer('m3', false)
      acks.answer('other', true)
      let settled: string | null = null
      void silent.then((o) => (settled = o))
      await vi.advanceTimersByTimeAsync(999)
      expect(settled).toBeNull()
      await vi.advanceTimersByTimeAsync(1)
      expect(settled).toBe('unknown')
      const closing = acks.expect('m4', 1)
      acks.clear()
      expect(await closing).toBe('unknown')
    } finally {
      vi.useRealTimers()
    }
  })
})

describe('redis settings', () => {
  const load = (env: NodeJS.ProcessEnv, redis?: object) => loadSettings({ service: 'workflow', env, ...(redis ? { overrides: { redis } } : {}) }).redis

  it('come from REDIS_URL, or REDIS_ADDR with REDIS_PASSWORD and REDIS_DB, and REDIS_PUBSUB_PREFIX', () => {
    expect(load({})).toEqual({ url: null, cluster: null, prefix: 'roomcast:' })
    expect(load({ REDIS_URL: 'redis://h:1/2' }).url).toBe('redis://h:1/2')
    expect(load({ REDIS_ADDR: 'h:6380', REDIS_PASSWORD: 'p@ss', REDIS_DB: '3', REDIS_PUBSUB_PREFIX: 'x:' })).toEqual({ url: 'redis://:p%40ss@h:6380/3', cluster: null, prefix: 'x:' })
  })

  it('reject what ioredis could not connect to, naming the variable or key', () => {
    expect(() => load({ REDIS_ADDR: 'nohost' })).toThrow(/REDIS_ADDR: expected host:port/)
    expect(() => load({ REDIS_ADDR: 'h:1', REDIS_DB: 'one' })).toThrow(/REDIS_DB: expected an integer/)
    expect(() => load({}, { url: 'http://h:1' })).toThrow(SettingsError)
    expect(() => load({}, { url: 'localhost:6379' })).toThrow(/redis\.url: expected redis:\/\//)
  })

  it('keep the password out of logs', () => {
    expect(redactUrl('redis://:secret@h:1/0')).toBe('redis://:***@h:1/0')
    expect(redactUrl('redis://h:1')).toBe('redis://h:1')
  })
})

describe('cluster presence from a hostile publisher (cluster-presence.ts)', () => {
  /** A presence book whose live peers are `live`; what it sends is kept in `sent`. */
  function book(live: string[] = []) {
    const sent: string[] = []
    const presence = new ClusterPresence({
      selfId: () => 'self',
      clustered: () => true,
      send: (text) => sent.push(text),
      peers: () => live,
      events: () => null,
      changed: () => {},
      askAgainMs: 2000,
    })
    return { presence, sent }
  }

  it('forgets the origins it asked that are no instance (presence messages without heartbeats)', () => {
    const { presence, sent } = book()
    for (let i = 0; i < 1000; i++) presence.changes(`fake-${i}`, 1, [[1, 'topics/x', null]])
    expect(sent.length).toBe(1000)
    expect(presence.asking).toBe(1000)
    presence.keepOnly([])
    expect(presence.asking).toBe(0)
    expect(presence.channels().size).toBe(0)
  })

  it('a peer counted and with members on one channel takes both with it when it goes', () => {
    const { presence } = book(['peer'])
    presence.sync('peer', 0, [])
    presence.changes('peer', 1, [
      [1, 'topics/x', null],
      [1, 'topics/x', ['c1', 'u1', null, 0]],
      // A counted leave never takes a member's place: the member stays listed.
      [0, 'topics/x', null],
      [0, 'topics/x', null],
    ])
    expect(presence.stats('topics/x')).toEqual({ clients: 1, users: 1 })
    expect(presence.members('topics/x').map((m) => m.connectionId)).toEqual(['c1'])
    presence.changes('peer', 2, [[1, 'topics/x', null]])
    presence.drop('peer')
    expect(presence.channels()).toEqual(new Map())
    expect(presence.stats('topics/x')).toEqual({ clients: 0, users: 0 })
  })

  it('refuses a member whose connected_at is past the last date (it could not be shown)', () => {
    const sync = (at: number) => JSON.stringify({ v: 1, type: 'presence_sync', origin: 'p', seq: 0, channels: [['topics/x', 1, [['c', null, null, at]]]] })
    expect(decodeClusterMessage(sync(8.64e15))).not.toBeNull()
    expect(decodeClusterMessage(sync(8.64e15 + 1))).toBeNull()
  })
})

describe('cluster presence: what an instance sends, every other instance takes', () => {
  it('a member with the longest user id a token may carry (1,024 characters) passes validation', () => {
    const sent: string[] = []
    const presence = new ClusterPresence({ selfId: () => 'self', clustered: () => true, send: (t) => sent.push(t), peers: () => [], events: () => null, changed: () => {}, askAgainMs: 2000 })
    presence.join('workflow:w1', { connectionId: 'c1', userId: 'u'.repeat(1024), sessionId: 's'.repeat(200), connectedAt: Date.now(), instance: 'self' })
    presence.resend()
    expect(sent.length).toBeGreaterThan(0)
    for (const text of sent) expect(decodeClusterMessage(text)).not.toBeNull()
  })
})
