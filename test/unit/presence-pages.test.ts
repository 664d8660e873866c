import { describe, expect, it } from 'vitest'
import type { Broker } from '../../src/broker/broker.js'
import { ClusterPresence, type PresenceMember } from '../../src/broker/cluster-presence.js'
import { ChannelTable } from '../../src/broker/history-channels.js'
import { AppError } from '../../src/protocol/codes.js'
import type { JsonObject } from '../../src/protocol/messages.js'
import { PRESENCE_PAGE_MAX, type PresenceRule, ServerPresence } from '../../src/server/presence.js'

/** A presence book of one standalone instance, and the server's view of it with presence on pool:*. */
function standalone() {
  const book = new ClusterPresence({ selfId: () => 'i1', clustered: () => false, send: () => {}, peers: () => [], events: () => null, changed: () => {}, askAgainMs: 1000 })
  const presence = new ServerPresence({
    broker: { presence: book } as unknown as Broker,
    instanceId: 'i1',
    rules: new ChannelTable<PresenceRule>([{ channel: 'pool:*', joinLeave: false }]),
    newEventId: () => 'e',
    log: { warn: () => {} },
  })
  return { book, presence }
}

/** Member `i`: connections accepted in the same millisecond in groups of 7, ids not in join order. */
const member = (i: number): PresenceMember => ({ connectionId: `c${((i * 7919) % 100003).toString(36)}`, userId: null, sessionId: null, connectedAt: 1_700_000_000_000 + Math.floor(i / 7), instance: 'i1' })

const ids = (answer: JsonObject) => (answer.members as JsonObject[]).map((m) => m.connection_id)

describe('presence pages (docs/protocol.md A.10)', () => {
  it(`one answer lists at most 1,000 members (PRESENCE_PAGE_MAX); 1,001 take two pages, each member once, in order`, () => {
    const { book, presence } = standalone()
    for (let i = 0; i < 1001; i++) book.join('pool:big', member(i))
    const first = presence.members('pool:big')
    expect(first).toMatchObject({ count: PRESENCE_PAGE_MAX, clients: 1001 })
    expect(PRESENCE_PAGE_MAX).toBe(1000)
    expect(typeof first.next).toBe('string')
    const second = presence.members('pool:big', { after: first.next })
    expect(second).toMatchObject({ count: 1, clients: 1001, next: null })
    const all = [...ids(first), ...ids(second)]
    const sorted = Array.from({ length: 1001 }, (_, i) => member(i)).sort((a, b) => a.connectedAt - b.connectedAt || (a.connectionId < b.connectionId ? -1 : 1))
    expect(all).toEqual(sorted.map((m) => m.connectionId))
  })

  it('a walk in small pages lists every member that stays exactly once, while others join and leave between pages', () => {
    const { book, presence } = standalone()
    for (let i = 0; i < 100; i++) book.join('pool:p', member(i))
    const seen: unknown[] = []
    let after: unknown = undefined
    for (let page = 0; page < 100 && after !== null; page++) {
      const answer = presence.members('pool:p', { limit: 7, after })
      seen.push(...ids(answer))
      after = answer.next
      // Between pages: one member that was listed leaves, a newcomer joins (later connected_at).
      if (page === 3) {
        book.leave('pool:p', member(0).connectionId)
        book.join('pool:p', member(500))
      }
    }
    expect(after).toBeNull()
    const stayed = Array.from({ length: 99 }, (_, i) => member(i + 1).connectionId)
    for (const id of stayed) expect(seen.filter((x) => x === id)).toHaveLength(1)
    expect(new Set(seen).size).toBe(seen.length)
  })

  it('refuses a limit outside 1–1000 and a cursor that is not a next', () => {
    const { book, presence } = standalone()
    book.join('pool:p', member(0))
    for (const limit of [0, 1001, 2.5, '10', true]) expect(() => presence.members('pool:p', { limit })).toThrow(AppError)
    for (const after of ['x', 12, '12', ':c1']) expect(() => presence.members('pool:p', { after })).toThrow("Field 'after' must be the 'next' of a previous presence answer")
    expect(presence.members('pool:p', { limit: 1000 })).toMatchObject({ count: 1, next: null })
  })
})
