import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { type PendingByEvent, redisNames } from '../../src/broker/redis-channels.js'
import type { StoredEntry } from '../../src/broker/pending-store.js'
import { RedisPending } from '../../src/broker/redis-pending.js'
import { useBackend } from '../helpers/redis-backends.js'

/**
 * The durable record on one Redis is kept per event (pending-scripts.ts PENDING_WRITE_GROUPED):
 * an event's value once, its recipients in one set, each instance's index of what it recorded,
 * each identity's set of the instances that recorded for it. These check what that must keep:
 * every identity finds its own events again, whatever characters it holds and whichever
 * instances recorded them; the operations of one turn end as the last one left each event; no
 * key without an expiry; and an event no one waits for leaves nothing behind.
 */

const clients: Redis[] = []
const stores: RedisPending[] = []
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()))
  for (const c of clients.splice(0)) c.disconnect()
})

// Any character: JSON's own (quote, backslash, control characters) and a lone surrogate (sent as U+FFFD, as in every key).
const IDENTITIES = ['a', 'é:ü\n1:x', '3:{z}', 'x'.repeat(300), '日本', '0:', ':', '"\\\u0001\t', 'lone \ud800 half', '\\ud83d text', '😀']

/** An entry of event `id` as the tracker records it. */
const entry = (id: string, order: number, attempts = 1): StoredEntry => ({ id, event: 'task.done', text: `{"id":"${id}"}`, attempts, order })

/** What an adoption gave: [id, attempts] in order, or what it said instead. */
const ids = (adopted: Awaited<ReturnType<RedisPending['adopt']>>) => (adopted !== null && 'entries' in adopted ? adopted.entries.map((e) => [e.id, e.attempts]) : adopted)

describe('the per-event durable record on one Redis', () => {
  const backend = useBackend('redis')

  /** A raw connection to the test Redis and the names under `prefix`. */
  async function openRaw(prefix: string) {
    const settings = backend.settings(prefix)
    if (!('url' in settings)) throw new Error('one Redis expected')
    const raw = new Redis(settings.url)
    clients.push(raw)
    await raw.ping()
    const names = redisNames(prefix, 'svc')
    return { raw, names, keys: names.pendingByEvent as PendingByEvent }
  }

  /** A store of instance `self` under `prefix`, on a connection of its own. */
  async function openStore(prefix: string, self = 'self', maxPerIdentity = 100) {
    const { raw, names, keys } = await openRaw(prefix)
    const store = new RedisPending({ connection: () => raw, names: () => names, leaseMs: 6000, sharded: false, publishCommand: 'publish' })
    stores.push(store)
    store.open(self, { keepMs: 60_000, maxPerIdentity })
    // The store writes at the end of the turn (removals alone a few ms later), on the same connection as these reads.
    const written = async () => {
      await new Promise((resolve) => setTimeout(resolve, 20))
      await raw.ping()
    }
    return { raw, names, keys, store, written }
  }

  /** Every key under `prefix` has an expiry (none kept for ever). */
  async function everyKeyExpires(raw: Redis, prefix: string): Promise<void> {
    const all = await raw.keys(`${prefix}*`)
    expect(all.length).toBeGreaterThan(0)
    for (const key of all) expect(await raw.pttl(key), key).toBeGreaterThan(0)
  }

  it("finds every identity's events again, whatever its characters, and keeps an expiry on every key", async () => {
    const { raw, keys, store, written } = await openStore('bye-chars:')
    for (const identity of IDENTITIES) store.put(identity, entry('e1', 1))
    store.put('a', entry('e2', 2))
    await written()
    // One set of recipients for e1, its value once.
    expect((await raw.smembers(`${keys.to}e1`)).sort()).toEqual(IDENTITIES.map((i) => i.replace(/\p{Cs}/gu, '\ufffd')).sort())
    expect(await raw.get(`${keys.event}e1`)).toBe('1 task.done\n{"id":"e1"}')
    await everyKeyExpires(raw, 'bye-chars:')

    // Another instance adopts each identity: its own events, no one else's.
    const other = await openStore('bye-chars:', 'other')
    for (const identity of IDENTITIES) expect(ids(await other.store.adopt(identity)), identity).toEqual(identity === 'a' ? [['e1', 1], ['e2', 1]] : [['e1', 1]])
    const adopted = await other.store.adopt('é:ü\n1:x')
    expect(adopted !== null && 'entries' in adopted ? adopted.entries.map((e) => [e.event, e.text, e.order]) : adopted).toEqual([['task.done', '{"id":"e1"}', 1]])
    await everyKeyExpires(raw, 'bye-chars:')
  })

  // Guards any regrouping of a turn's operations: a plain "every write, then every removal" per
  // event fails 'again', "every removal, then every write" fails 'w-then-r'.
  it('ends each event of one turn as its last operation left it', async () => {
    const { raw, keys, store, written } = await openStore('bye-order:')
    /** Identity's events as recorded: id → '<order> <attempts>'. */
    const events = async (identity: string) => {
      const out: Record<string, string> = {}
      for (const id of ['e0', 'e1', 'e2', 'e3', 'e9']) {
        if ((await raw.sismember(`${keys.to}${id}`, identity)) === 0) continue
        const value = (await raw.get(`${keys.event}${id}`)) ?? 'none'
        out[id] = `${value.split(' ')[0]} ${(await raw.hget(`${keys.tries}${id}`, identity)) ?? '1'}`
      }
      return out
    }

    // Earlier turns: e0 recorded for 'both' and 'again'.
    store.put('both', entry('e0', 0))
    store.put('again', entry('e0', 0))
    await written()

    // One turn. 'w-then-r': e1 written then acknowledged (ends removed), e2 written and kept.
    store.put('w-then-r', entry('e1', 1))
    store.put('w-then-r', entry('e2', 2))
    store.remove('w-then-r', 'e1')
    // 'again': e0 acknowledged, then sent again (ends written, its second attempt).
    store.remove('again', 'e0')
    store.put('again', entry('e0', 0, 2))
    // 'both': e0 removed and e1 written, e1 rewritten with a later attempt, then removed and written again.
    store.remove('both', 'e0')
    store.put('both', entry('e1', 1))
    store.put('both', entry('e1', 1, 2))
    store.remove('both', 'e1')
    store.put('both', entry('e1', 1, 3))
    // Another recipient of e1 in the same groups, written once.
    store.put('other', entry('e1', 1))
    await written()

    expect(await events('w-then-r')).toEqual({ e2: '2 1' })
    expect(await events('again')).toEqual({ e0: '0 2' })
    expect(await events('both')).toEqual({ e1: '1 3' })
    expect(await events('other')).toEqual({ e1: '1 1' })

    // Every event of one identity acknowledged in one turn of removals alone.
    store.put('many', entry('e3', 3))
    await written()
    store.remove('many', 'e3')
    store.remove('many', 'e2')
    await expect.poll(() => events('many'), { timeout: 5000 }).toEqual({})

    // One entry object shared by an event's recipients (as Delivery passes it), its removals in between.
    const shared = entry('e9', 9)
    store.put('s1', shared)
    store.put('s2', shared)
    store.remove('s1', 'e9')
    store.put('s3', shared)
    store.put('s1', shared)
    store.remove('s2', 'e9')
    store.put('s4', shared)
    await written()
    expect(await events('s1')).toEqual({ e9: '9 1' })
    expect(await events('s2')).toEqual({})
    expect(await events('s3')).toEqual({ e9: '9 1' })
    expect(await events('s4')).toEqual({ e9: '9 1' })
    await everyKeyExpires(raw, 'bye-order:')
  })

  it('leaves nothing of an event once every recipient acknowledged it', async () => {
    const { raw, keys, store, written } = await openStore('bye-clean:')
    const room = ['r1', 'r2', 'r3']
    for (const identity of room) store.put(identity, entry('e1', 1))
    store.put('r1', entry('e1', 1, 2))
    await written()
    expect(await raw.zscore(`${keys.index}self`, 'e1')).not.toBeNull()
    for (const identity of room) store.remove(identity, 'e1')
    await written()
    await expect.poll(() => raw.exists(`${keys.to}e1`, `${keys.event}e1`, `${keys.tries}e1`), { timeout: 5000 }).toBe(0)
    expect(await raw.zscore(`${keys.index}self`, 'e1')).toBeNull()
  })

  // The record of one identity spread over instances: recorded by a, adopted by b (which records
  // more and sees an ack), then adopted by c once b let it go: c gets what is still pending, once.
  it('follows an identity from instance to instance, each finding what the ones before recorded', async () => {
    const a = await openStore('bye-move:', 'a')
    const b = await openStore('bye-move:', 'b')
    const c = await openStore('bye-move:', 'c')
    for (const [i, id] of ['e1', 'e2', 'e3'].entries()) {
      a.store.put('x', entry(id, i))
      a.store.put('y', entry(id, i))
    }
    await a.written()
    expect(ids(await b.store.adopt('x'))).toEqual([['e1', 1], ['e2', 1], ['e3', 1]])
    // While b owns x (its lease alive), c waits.
    b.store.renew()
    await b.written()
    const waiting = await c.store.adopt('x')
    expect(waiting !== null && 'wait' in waiting).toBe(true)
    // b: e1 acknowledged, e2 sent again, e4 new; then x leaves b.
    b.store.remove('x', 'e1')
    b.store.put('x', entry('e2', 1, 2))
    b.store.put('x', entry('e4', 4))
    await b.written()
    b.store.release('x')
    await b.written()
    expect(ids(await c.store.adopt('x'))).toEqual([['e2', 2], ['e3', 1], ['e4', 1]])
    // y was never adopted: still all three where a recorded them.
    expect(ids(await c.store.adopt('y'))).toEqual([['e1', 1], ['e2', 1], ['e3', 1]])
    await everyKeyExpires(a.raw, 'bye-move:')
  })

  it('bounds what a private channel records for one identity, and makes room as its events are acknowledged', async () => {
    const { raw, names, store, written } = await openStore('bye-inbox:', 'self', 3)
    const recorded: string[] = []
    for (let i = 0; i < 5; i++) {
      const e = entry(`p${i}`, i)
      await store.publishRecorded('offline', e, 'direct', 'x')
      recorded.push(e.id)
    }
    const other = await openStore('bye-inbox:', 'other', 3)
    expect(ids(await other.store.adopt('offline'))).toEqual([['p0', 1], ['p1', 1], ['p2', 1]])
    // Two acknowledged (where the identity now is): two more fit.
    other.store.remove('offline', 'p0')
    other.store.remove('offline', 'p1')
    await other.written()
    other.store.release('offline')
    await other.written()
    for (let i = 5; i < 8; i++) await store.publishRecorded('offline', entry(`p${i}`, i), 'direct', 'x')
    expect(ids(await store.adopt('offline'))).toEqual([['p2', 1], ['p5', 1], ['p6', 1]])
    expect(await raw.zcard(`${names.pendingByEvent?.inbox}offline`)).toBe(3)
    await written()
    await everyKeyExpires(raw, 'bye-inbox:')
  })

  // A turn of more than MAX_GROUPED recipients goes in several scripts, the events' values in the
  // first. Another instance's scripts run between them: its removal that empties an event's
  // recipients deletes the value before a later script of this turn adds a recipient of it.
  it("keeps an event's value for a recipient written in a later script of a split turn, whatever another instance removed in between", async () => {
    const a = await openStore('bye-split:', 'a')
    const { raw: rawB, names, keys } = await openRaw('bye-split:')
    // B's connection, its second script held until A's removal was answered (a pipeline that
    // Redis reads in parts serves other clients between its scripts).
    let evals = 0
    let hold: () => void = () => {}
    const held = new Promise<void>((resolve) => (hold = resolve))
    let secondSent: () => void = () => {}
    const second = new Promise<void>((resolve) => (secondSent = resolve))
    const gated = new Proxy(rawB, {
      get(target, prop) {
        if (prop === 'eval') {
          return (...args: Parameters<Redis['eval']>) => {
            if (++evals !== 2) return target.eval(...args)
            secondSent()
            return held.then(() => target.eval(...args))
          }
        }
        const value: unknown = Reflect.get(target, prop)
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
      },
    })
    const b = new RedisPending({ connection: () => gated, names: () => names, leaseMs: 6000, sharded: false, publishCommand: 'publish' })
    stores.push(b)
    b.open('b', { keepMs: 60_000, maxPerIdentity: 100 })

    // x's recipient on A: x alone.
    a.store.put('a-one', entry('x', 1))
    await a.written()
    // One turn of B: y for 2,000 recipients (the first script), then x for its own recipient (the second).
    for (let i = 0; i < 2000; i++) b.put(`r${i}`, entry('y', 0))
    b.put('b-one', entry('x', 1))
    await second
    // A's recipient acknowledges x: no one waits for it any more, as far as Redis knows yet.
    a.store.remove('a-one', 'x')
    await expect.poll(() => rawB.exists(`${keys.to}x`), { timeout: 5000 }).toBe(0)
    hold()
    await expect.poll(() => rawB.sismember(`${keys.to}x`, 'b-one'), { timeout: 5000 }).toBe(1)
    // B dies (its lease gone): b-one connects to C, which finds x.
    await rawB.del(names.lease('b'))
    const c = await openStore('bye-split:', 'c')
    expect(ids(await c.store.adopt('b-one'))).toEqual([['x', 1]])
  })

  // An identity written to all the time keeps its where set alive, renewed by each write: the
  // instances that wrote for it and died since (a restart takes a new id) must not pile up there.
  it('drops from where an identity was recorded the instances gone, with their index, at its adoption', async () => {
    const { raw, keys } = await openRaw('bye-where:')
    for (let i = 0; i < 10; i++) {
      const s = await openStore('bye-where:', `gone-${i}`)
      s.store.put('x', entry(`g${i}`, i))
      await s.written()
      s.store.remove('x', `g${i}`)
      await s.written()
      // A graceful stop (its lease deleted); its index went with its last entry.
      await s.store.close()
    }
    const live = await openStore('bye-where:', 'live')
    live.store.put('x', entry('e1', 100))
    await live.written()
    expect(await raw.scard(`${keys.where}x`)).toBe(11)
    const c = await openStore('bye-where:', 'c')
    expect(ids(await c.store.adopt('x'))).toEqual([['e1', 1]])
    expect((await raw.smembers(`${keys.where}x`)).sort()).toEqual(['c', 'live'])
  })

  // An instance dies holding many agents' events (each its own, e.g. private conversations):
  // its index holds all of them, and every one of its agents reconnects elsewhere. Each adoption
  // looking through the whole index is quadratic in the agents (a 20,000-entry index took 30 ms
  // of Redis per adoption: a minute of Redis for 2,000 agents, everyone else waiting meanwhile).
  it("adopts the agents of a dead instance at a cost in proportion to what they wait for, not to the instance's whole index", async () => {
    const AGENTS = 400
    const PER = 5
    const a = await openStore('bye-storm:', 'a')
    for (let i = 0; i < AGENTS; i++) for (let k = 0; k < PER; k++) a.store.put(`agent${i}`, entry(`e${i}-${k}`, i * PER + k))
    await a.written()
    expect(await a.raw.zcard(`${a.keys.index}a`)).toBe(AGENTS * PER)
    // a dies: its lease is gone.
    await a.raw.del(a.names.lease('a'))
    const c = await openStore('bye-storm:', 'c')
    await c.raw.config('RESETSTAT')
    for (let i = 0; i < AGENTS; i++) {
      const want = Array.from({ length: PER }, (_, k) => [`e${i}-${k}`, 1])
      expect(ids(await c.store.adopt(`agent${i}`))).toEqual(want)
    }
    // Commands Redis ran for those adoptions (scripts' included): looking through the whole index
    // each time is AGENTS × AGENTS × PER membership checks (800,000); what the agents wait for, a
    // few per event of theirs.
    const stats = await c.raw.info('commandstats')
    let calls = 0
    for (const line of stats.split('\n')) {
      const m = /^cmdstat_([a-z]+):calls=(\d+)/.exec(line)
      if (m !== null && m[1] !== 'eval' && m[1] !== 'info') calls += Number(m[2])
    }
    expect(calls).toBeLessThan(AGENTS * PER * 40)
    await everyKeyExpires(c.raw, 'bye-storm:')
  })

  // docs/protocol.md A.8: an entry roomcast cannot read is skipped at adoption, the rest adopted
  // as usual. Keys of another type than the record's (left by something else with access to
  // Redis) are such entries: they must not fail the whole adoption.
  it('adopts the rest of a record when some of its keys are of another type', async () => {
    const { raw, keys, store, written } = await openStore('bye-types:', 'a')
    store.put('x', entry('ok1', 1))
    store.put('x', entry('ok2', 5))
    await written()
    // In a's index and x's inbox: an event whose recipients are a string, one whose value is a
    // hash, one whose attempts are a list.
    for (const id of ['t1', 't2', 't3']) await raw.zadd(`${keys.index}a`, 2, id)
    await raw.zadd(`${keys.inbox}x`, 2, 't1', 2, 't2', 2, 't3')
    await raw.set(`${keys.to}t1`, 'x', 'PX', 60_000)
    await raw.sadd(`${keys.to}t2`, 'x')
    await raw.hset(`${keys.event}t2`, 'f', 'v')
    await raw.sadd(`${keys.to}t3`, 'x')
    await raw.set(`${keys.event}t3`, '3 task.done\n{"id":"t3"}')
    await raw.rpush(`${keys.tries}t3`, '2')
    await raw.set(`${keys.moved}x`, 'not a zset', 'PX', 60_000)
    for (const k of [`${keys.to}t2`, `${keys.event}t2`, `${keys.to}t3`, `${keys.event}t3`, `${keys.tries}t3`]) await raw.pexpire(k, 60_000)
    const c = await openStore('bye-types:', 'c')
    // a is alive (its lease renewed): its index is looked through, not split.
    expect(ids(await c.store.adopt('x'))).toEqual([['ok1', 1], ['ok2', 1]])
  })

  it("adopts an earlier version's record (one hash per identity) once, and keeps it in this one", async () => {
    const { raw, names } = await openRaw('bye-legacy:')
    const key = names.pending('old').entries
    await raw.hset(key, { '': '', l1: '5 1\ntask.done\n{"id":"l1"}', l2: '6 2\ntask.done\n' })
    await raw.set(names.pendingFrame('l2'), '{"id":"l2"}', 'PX', 60_000)
    await raw.pexpire(key, 60_000)
    const s = await openStore('bye-legacy:', 'new')
    expect(ids(await s.store.adopt('old'))).toEqual([['l1', 1], ['l2', 2]])
    expect(await raw.exists(key)).toBe(0)
    await s.written()
    const t = await openStore('bye-legacy:', 'newer')
    s.store.release('old')
    await s.written()
    expect(ids(await t.store.adopt('old'))).toEqual([['l1', 1], ['l2', 2]])
  })
})
