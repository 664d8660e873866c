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
