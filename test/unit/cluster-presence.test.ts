import { describe, expect, it } from 'vitest'
import { ClusterPresence, type PresenceMember } from '../../src/broker/cluster-presence.js'

describe('cluster presence: a peer that goes', () => {
  it('reports each member of each presence channel gone once, and the channels vacated, on the leader', () => {
    const gone: [string, string[]][] = []
    const vacated: string[] = []
    const events = { occupied: () => {}, vacated: (c: string) => vacated.push(c), gone: (c: string, ms: readonly PresenceMember[]) => gone.push([c, ms.map((m) => m.connectionId)]) }
    const book = new ClusterPresence({ selfId: () => 'a', clustered: () => true, send: () => {}, peers: () => ['b'], events: () => events, changed: () => {}, askAgainMs: 1000 })
    const wire = (n: number, p: string) => Array.from({ length: n }, (_, i) => [`${p}${i}`, `u${i % 3}`, null, 1_700_000_000_000 + i] as [string, string, null, number])
    book.sync('b', 1, [
      ['topics/big', 2500, wire(2500, 'x')],
      ['topics/small', 2, wire(2, 'y')],
      ['global', 4, null],
    ])
    expect(book.stats('topics/big')).toEqual({ clients: 2500, users: 3 })
    book.drop('b')
    expect(gone.map(([c, ids]) => [c, ids.length, new Set(ids).size])).toEqual([
      ['topics/big', 2500, 2500],
      ['topics/small', 2, 2],
    ])
    expect(vacated.sort()).toEqual(['global', 'topics/big', 'topics/small'])
    expect(book.stats('topics/big')).toEqual({ clients: 0, users: 0 })
    expect(book.members('topics/big')).toEqual([])
  })
})

describe('cluster presence: a peer heard before its first copy', () => {
  /** Book `a`, the leader (b's id is larger), that heard b's heartbeat and asked b for its copy. */
  function leaderOfB() {
    const occupied: string[] = []
    const vacated: string[] = []
    const sent: string[] = []
    const events = { occupied: (c: string) => occupied.push(c), vacated: (c: string) => vacated.push(c), gone: () => {} }
    const book = new ClusterPresence({ selfId: () => 'a', clustered: () => true, send: (t) => sent.push(t), peers: () => ['b'], events: () => events, changed: () => {}, askAgainMs: 1000 })
    book.heartbeat('b', 0)
    expect(sent.map((t) => JSON.parse(t).type)).toEqual(['presence_ask'])
    return { book, occupied, vacated }
  }
  const dave = ['c1', 'dave', 's9', 1_700_000_000_000] as [string, string, string, number]

  it('reports a channel occupied by a change heard while its copy was on its way (b does not report it: it knows a leader)', () => {
    const { book, occupied } = leaderOfB()
    // dave joins on b before b answered the ask: b's change comes first, then its copy holding it.
    book.changes('b', 1, [
      [1, 'agents/dave', dave],
      [1, 'global', null],
    ])
    book.sync('b', 1, [
      ['agents/dave', 1, [dave]],
      ['global', 1, null],
    ])
    expect(occupied.sort()).toEqual(['agents/dave', 'global'])
    expect(book.stats('agents/dave')).toEqual({ clients: 1, users: 1 })
  })

  it('reports a channel vacated by a change heard before the copy, and nothing for what the copy held before', () => {
    const { book, occupied, vacated } = leaderOfB()
    book.changes('b', 3, [[0, 'agents/dave', 'c1']])
    book.sync('b', 3, [['topics/old', 1, [dave]]])
    expect(occupied).toEqual([])
    expect(vacated).toEqual(['agents/dave'])
  })

  it('a first copy with no change heard before it is news to nobody', () => {
    const { book, occupied } = leaderOfB()
    book.sync('b', 4, [['agents/dave', 1, [dave]]])
    expect(occupied).toEqual([])
  })
})
