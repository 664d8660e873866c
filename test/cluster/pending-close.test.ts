import { randomUUID } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { redisClusterNames, redisNames } from '../../src/broker/redis-channels.js'
import { openRedis, openRedisCluster } from '../../src/broker/redis-connection.js'
import { RedisPending } from '../../src/broker/redis-pending.js'
import type { StoredEntry } from '../../src/broker/pending-store.js'
import { BACKENDS, useBackend } from '../helpers/redis-backends.js'

/**
 * A graceful stop (RedisPending.close, then the connection quits, as ClusterBroker.close does):
 * the store's last writes, its releases and its lease's deletion reach Redis first, even while a
 * reply is still outstanding on their node, and a stop does not hang on a node that does not answer.
 */

/** A script that keeps its node busy for `ms` (Redis runs one command at a time). */
const busy = (ms: number) => `local t = redis.call('time'); local s = t[1] * 1000000 + t[2]
repeat local n = redis.call('time') until (n[1] * 1000000 + n[2]) - s > ${ms * 1000}
return 1`

const entry = (id: string, order: number): StoredEntry => ({ id, event: 'task.created', text: JSON.stringify({ type: 'event', id }), attempts: 1, order })
const TIMING = { keepMs: 60_000, maxPerIdentity: 100 }

describe.each(BACKENDS)('the pending store at a graceful stop, on %s', (kind) => {
  const backend = useBackend(kind)

  async function store(prefix: string, self: string, closeTimeoutMs: number): Promise<{ conn: Redis | Cluster; pending: RedisPending; names: ReturnType<typeof redisNames> }> {
    const at = backend.settings(prefix)
    const sharded = 'cluster' in at
    const conn = sharded
      ? openRedisCluster(at.cluster.map((a) => ({ host: a.split(':')[0] as string, port: Number(a.split(':')[1]) })), self)
      : openRedis(at.url, self)
    await conn.connect()
    const names = sharded ? redisClusterNames(prefix, 'svc') : redisNames(prefix, 'svc')
    // A 30 s lease: adoption by waiting it out is not what the checks below see.
    const pending = new RedisPending({ connection: () => conn, names: () => names, leaseMs: 30_000, sharded, publishCommand: sharded ? 'spublish' : 'publish', closeTimeoutMs })
    pending.open(self, TIMING)
    return { conn, pending, names }
  }

  it('sends its last writes, its release and its lease deletion before the connection quits, queued behind a busy node', async () => {
    const prefix = `pending-close-${randomUUID().slice(0, 8)}:`
    // Safety bound only: the nodes are busy 300 ms.
    const a = await store(prefix, 'inst-a', 10_000)
    a.pending.put('alice', entry('e1', 1))
    expect(await a.pending.adopt('alice')).toMatchObject({ entries: [{ id: 'e1' }] })
    // Replies outstanding on the nodes of a's lease and of alice's record when a stops.
    const busyNodes = [a.names.lease('inst-a'), a.names.pending('alice').owner].map((key) => a.conn.eval(busy(300), 1, key))
    await new Promise((resolve) => setImmediate(resolve))
    a.pending.put('alice', entry('e2', 2))
    a.pending.release('alice')
    await a.pending.close()
    await a.conn.quit()
    await Promise.all(busyNodes)
    const b = await store(prefix, 'inst-b', 10_000)
    try {
      // Two slots on a Redis Cluster: one key at a time.
      expect([await b.conn.exists(b.names.lease('inst-a')), await b.conn.exists(b.names.pending('alice').owner)]).toEqual([0, 0])
      expect(await b.pending.adopt('alice')).toMatchObject({ entries: [{ id: 'e1' }, { id: 'e2' }] })
    } finally {
      b.conn.disconnect()
    }
  })

  it('does not hang a stop on a node that does not answer: it waits closeTimeoutMs at most', async () => {
    const prefix = `pending-close-${randomUUID().slice(0, 8)}:`
    const a = await store(prefix, 'inst-a', 100)
    await a.pending.adopt('alice')
    let answered = false
    const busyNode = a.conn.eval(busy(3000), 1, a.names.lease('inst-a')).then(() => (answered = true))
    await new Promise((resolve) => setImmediate(resolve))
    a.pending.release('alice')
    await a.pending.close()
    // Resolved on its bound (100 ms), the node still busy for seconds.
    expect(answered).toBe(false)
    await busyNode
    await a.conn.quit()
  })
})
