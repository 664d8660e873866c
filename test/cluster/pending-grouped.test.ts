import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { redisNames } from '../../src/broker/redis-channels.js'
import { RedisPending } from '../../src/broker/redis-pending.js'
import { useBackend } from '../helpers/redis-backends.js'

/**
 * The durable record on one Redis is written grouped (pending-scripts.ts PENDING_WRITE_GROUPED):
 * one value per event for all its recipients, each identity's key built by the script from the
 * identity's length and text, and each record's expiry renewed once per period instead of on
 * every write. These check what that must keep: each entry under its own identity's key,
 * whatever characters the identity holds, and no record ever left without an expiry.
 */

const clients: Redis[] = []
afterEach(() => {
  for (const c of clients.splice(0)) c.disconnect()
})

// Any character: JSON's own (quote, backslash, control characters) and a lone surrogate (sent as U+FFFD, as in every key).
const IDENTITIES = ['a', 'é:ü\n1:x', '3:{z}', 'x'.repeat(300), '日本', '0:', ':', '"\\\u0001\t', 'lone \ud800 half', '\\ud83d text', '😀']

/** An entry of event `id` as the tracker records it. */
const entry = (id: string, order: number, attempts = 1) => ({ id, event: 'task.done', text: `{"id":"${id}"}`, attempts, order })

describe('the grouped durable record on one Redis', () => {
  const backend = useBackend('redis')

  /** A grouped store under `prefix` on the test Redis, with a connection of its own to read what it wrote. */
  async function openStore(prefix: string) {
    const settings = backend.settings(prefix)
    if (!('url' in settings)) throw new Error('one Redis expected')
    const raw = new Redis(settings.url)
    clients.push(raw)
    await raw.ping()
    const names = redisNames(prefix, 'svc')
    const store = new RedisPending({ connection: () => raw, names: () => names, leaseMs: 6000, sharded: false, publishCommand: 'publish' })
    store.open('self', { keepMs: 60_000, maxPerIdentity: 100 })
    // The store writes at the end of the turn, on the same connection as these reads: a turn, then a round trip.
    const written = async () => {
      await new Promise((resolve) => setImmediate(resolve))
      await raw.ping()
    }
    return { raw, names, store, written }
  }

  it('writes every identity\'s entries under its own key, keeps an expiry after its last entry goes, and adopts only the entries', async () => {
    const { raw, names, store, written } = await openStore('grouped:')

    for (const identity of IDENTITIES) store.put(identity, entry('e1', 1))
    store.put('a', entry('e2', 2))
    await written()
    for (const identity of IDENTITIES) {
      const fields = await raw.hgetall(names.pending(identity).entries)
      expect(Object.keys(fields).filter((f) => f !== '').sort(), identity).toEqual(identity === 'a' ? ['e1', 'e2'] : ['e1'])
      expect(await raw.pttl(names.pending(identity).entries), identity).toBeGreaterThan(60_000)
    }
    expect(await raw.get(names.pendingFrame('e1'))).toBe('{"id":"e1"}')

    // Every entry acknowledged, then a new one in the same period (no renewal): the record still expires.
    for (const identity of IDENTITIES) store.remove(identity, 'e1')
    store.remove('a', 'e2')
    await written()
    for (const identity of IDENTITIES) store.put(identity, entry('e3', 3))
    await written()
    for (const identity of IDENTITIES) {
      expect(Object.keys(await raw.hgetall(names.pending(identity).entries)).filter((f) => f !== ''), identity).toEqual(['e3'])
      expect(await raw.pttl(names.pending(identity).entries), identity).toBeGreaterThan(0)
    }

    const adopted = await store.adopt('é:ü\n1:x')
    expect(adopted !== null && 'entries' in adopted ? adopted.entries.map((e) => [e.id, e.text, e.attempts]) : adopted).toEqual([['e3', '{"id":"e3"}', 1]])
    store.close()
  })

  // Guards any regrouping of a turn's operations (per record, per command): a plain "every write,
  // then every removal" per record fails 'again', "every removal, then every write" fails 'w-then-r'.
  it('ends each field of one turn as its last operation left it', async () => {
    const { raw, names, store, written } = await openStore('grouped-order:')
    const fields = async (identity: string) => {
      const all = await raw.hgetall(names.pending(identity).entries)
      return Object.fromEntries(Object.entries(all).filter(([f]) => f !== '').map(([f, v]) => [f, v.split('\n')[0]]))
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
    // Another recipient of e1 in the same groups: its own record, written once.
    store.put('other', entry('e1', 1))
    await written()

    expect(await fields('w-then-r')).toEqual({ e2: '2 1' })
    expect(await fields('again')).toEqual({ e0: '0 2' })
    expect(await fields('both')).toEqual({ e1: '1 3' })
    expect(await fields('other')).toEqual({ e1: '1 1' })
    for (const identity of ['w-then-r', 'again', 'both', 'other']) expect(await raw.pttl(names.pending(identity).entries), identity).toBeGreaterThan(0)

    // Every entry of a record acknowledged in one turn, several in one HDEL: the record keeps its expiry.
    store.put('many', entry('e1', 1))
    store.put('many', entry('e2', 2))
    store.put('many', entry('e3', 3))
    await written()
    store.remove('many', 'e3')
    store.remove('many', 'e1')
    store.remove('many', 'e2')
    // A turn of removals alone waits a few milliseconds for a write to take it along; none comes.
    await written()
    await expect.poll(() => fields('many'), { timeout: 5000 }).toEqual({})
    expect(await raw.pttl(names.pending('many').entries)).toBeGreaterThan(0)

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
    expect(await fields('s1')).toEqual({ e9: '9 1' })
    expect(await fields('s2')).toEqual({})
    expect(await fields('s3')).toEqual({ e9: '9 1' })
    expect(await fields('s4')).toEqual({ e9: '9 1' })
    store.close()
  })

  // A room's fan-out writes the same identities turn after turn: their list is sent again as it
  // was, and they are not looked up for renewal while all were renewed in the period. An adoption
  // sets its record's expiry to the keep time: that record is renewed again before its next write.
  it('renews an adopted record before its next write, also for the same identities as the turn before', async () => {
    const { raw, names, store, written } = await openStore('grouped-renew:')
    const room = ['r1', 'r2', 'r3']
    for (const [i, id] of ['e1', 'e2'].entries()) {
      const e = entry(id, i)
      for (const identity of room) store.put(identity, e)
      await written()
    }
    const adopted = await store.adopt('r2')
    expect(adopted !== null && 'entries' in adopted ? adopted.entries.map((e) => e.id) : adopted).toEqual(['e1', 'e2'])
    // The adoption left the keep time (60 s); a renewal sets the keep time plus two periods.
    expect(await raw.pttl(names.pending('r2').entries)).toBeLessThanOrEqual(60_000)
    const e3 = entry('e3', 3)
    for (const identity of room) store.put(identity, e3)
    await written()
    for (const identity of room) {
      expect(Object.keys(await raw.hgetall(names.pending(identity).entries)).filter((f) => f !== '').sort(), identity).toEqual(['e1', 'e2', 'e3'])
      expect(await raw.pttl(names.pending(identity).entries), identity).toBeGreaterThan(60_000)
    }
    store.close()
  })
})
