import { describe, expect, it } from 'vitest'
import { HistoryChannels, patternsOverlap } from '../../src/broker/history-channels.js'
import { roomChannel } from '../../src/broker/cluster-channels.js'
import { carriedPublication, decodeClusterMessage, publicationMessageHead } from '../../src/broker/cluster-messages.js'
import { MemoryHistory } from '../../src/broker/memory-history.js'
import { decideRecovery, type HistoryOptions, sinceProblem } from '../../src/broker/position.js'
import type { Publication } from '../../src/protocol/messages.js'

const opts: HistoryOptions = { size: 3, ttlMs: 1000, metaTtlMs: 5000 }

function pub(n: number, channel = 'workflow:w1'): Publication {
  return { id: `e${n}`, channel, event: 'workflow.started', data: { workflow_id: 'w1', n }, timestamp: '2026-01-01T00:00:00.000Z' }
}

describe('memory history', () => {
  it('numbers publications 1, 2, 3 … per channel under one epoch', () => {
    const h = new MemoryHistory()
    const a = [1, 2, 3].map((n) => h.append(pub(n), opts).position)
    const other = h.append(pub(1, 'workflow:w2'), opts).position
    expect(a.map((p) => p.offset)).toEqual([1, 2, 3])
    expect(new Set(a.map((p) => p.epoch)).size).toBe(1)
    expect(other.offset).toBe(1)
    expect(other.epoch).not.toBe(a[0]!.epoch)
  })

  it('keeps at most size publications, the newest, and reads those after an offset in order', () => {
    const h = new MemoryHistory()
    for (let n = 1; n <= 10; n++) h.append(pub(n), opts)
    const page = h.read('workflow:w1', 0, opts)
    expect(page.top.offset).toBe(10)
    expect(page.publications.map((p) => p.position.offset)).toEqual([8, 9, 10])
    expect(page.publications.map((p) => p.id)).toEqual(['e8', 'e9', 'e10'])
    expect(h.read('workflow:w1', 9, opts).publications.map((p) => p.id)).toEqual(['e10'])
    expect(h.read('workflow:w1', null, opts).publications).toEqual([])
  })

  it('drops publications ttl after the last one, keeps the epoch until meta ttl, then starts a new epoch', () => {
    let now = 0
    const h = new MemoryHistory({ now: () => now })
    const first = h.append(pub(1), opts).position
    h.append(pub(2), opts)
    now = 999
    expect(h.read('workflow:w1', 0, opts).publications).toHaveLength(2)
    now = 1999
    const expired = h.read('workflow:w1', 0, opts)
    expect(expired.publications).toEqual([])
    expect(expired.top).toEqual({ offset: 2, epoch: first.epoch })
    expect(h.append(pub(3), opts).position).toEqual({ offset: 3, epoch: first.epoch })
    now += 5000
    expect(h.sweep()).toBe(1)
    expect(h.size).toBe(0)
    const fresh = h.append(pub(4), opts).position
    expect(fresh.offset).toBe(1)
    expect(fresh.epoch).not.toBe(first.epoch)
  })

  it('sweeps streams nobody used for meta ttl, so many channels do not pile up', () => {
    let now = 0
    const h = new MemoryHistory({ now: () => now })
    for (let n = 0; n < 100; n++) h.append(pub(1, `workflow:w${n}`), opts)
    now = 4999
    h.read('workflow:w0', null, opts)
    now = 5000
    expect(h.sweep()).toBe(99)
    expect(h.size).toBe(1)
  })

  it('as a history store: answers at once when there is nobody to send to, else sends the message completed with the position, in the same turn', async () => {
    const h = new MemoryHistory()
    const alone = h.appendAndPublish(pub(1), opts, null)
    expect(alone).not.toBeInstanceOf(Promise)
    const epoch = (alone as { position: { epoch: string } }).position.epoch
    expect(alone).toEqual({ position: { offset: 1, epoch }, receivers: 0, stored: { ...pub(1), position: { offset: 1, epoch } } })
    const sent: string[] = []
    const out = { channel: roomChannel('workflow:w1'), head: publicationMessageHead('i1', pub(2)), send: async (bytes: string) => sent.push(bytes) }
    const appended = h.appendAndPublish(pub(2), opts, out)
    // Sent before the caller gets control back: no other publication of this process can come between.
    expect(sent).toHaveLength(1)
    expect(await appended).toEqual({ position: { offset: 2, epoch }, receivers: 1 })
    const msg = decodeClusterMessage(sent[0] as string)
    expect(msg?.type === 'publication' ? carriedPublication(msg) : null).toEqual({ ...pub(2), position: { offset: 2, epoch } })
  })
})

describe('recovery decision', () => {
  const h = new MemoryHistory()
  for (let n = 1; n <= 5; n++) h.append(pub(n), { ...opts, size: 3 })
  const epoch = h.read('workflow:w1', null, opts).top.epoch

  it('replays exactly what came after since when the history still holds it', () => {
    const r = decideRecovery({ offset: 3, epoch }, h.read('workflow:w1', 3, opts))
    expect(r.recovered).toBe(true)
    expect(r.replay.map((p) => p.position.offset)).toEqual([4, 5])
    expect(r.top.offset).toBe(5)
    expect(decideRecovery({ offset: 5, epoch }, h.read('workflow:w1', 5, opts))).toMatchObject({ recovered: true, replay: [] })
  })

  it('is not recovered when the gap is older than the history, the epoch differs, or the client is ahead', () => {
    expect(decideRecovery({ offset: 1, epoch }, h.read('workflow:w1', 1, opts))).toMatchObject({ recovered: false, replay: [] })
    expect(decideRecovery({ offset: 4, epoch: 'other' }, h.read('workflow:w1', 4, opts)).recovered).toBe(false)
    expect(decideRecovery({ offset: 6, epoch }, h.read('workflow:w1', 6, opts)).recovered).toBe(false)
  })

  it('is not recovered when a publication in the middle is missing', () => {
    const page = h.read('workflow:w1', 2, opts)
    const holed = { ...page, publications: page.publications.filter((p) => p.position.offset !== 4) }
    expect(decideRecovery({ offset: 2, epoch }, holed).recovered).toBe(false)
  })

  it('names the field of a malformed since', () => {
    expect(sinceProblem({ offset: 1, epoch: 'e' })).toBeNull()
    expect(sinceProblem('x')).toMatch(/^since must be an object/)
    expect(sinceProblem({ epoch: 'e' })).toMatch(/^since\.offset/)
    expect(sinceProblem({ offset: -1, epoch: 'e' })).toMatch(/^since\.offset/)
    expect(sinceProblem({ offset: 1.5, epoch: 'e' })).toMatch(/^since\.offset/)
    expect(sinceProblem({ offset: 1 })).toMatch(/^since\.epoch/)
    expect(sinceProblem({ offset: 1, epoch: 'x'.repeat(65) })).toMatch(/^since\.epoch/)
  })
})

describe('history channels', () => {
  it('match templates, globs and literals with the service syntax', () => {
    const h = new HistoryChannels([
      { channel: 'workflow:*', size: 10, ttlMs: 1, metaTtlMs: 1 },
      { channel: 'pool:{id}', size: 20, ttlMs: 1, metaTtlMs: 1 },
      { channel: 'global', size: 30, ttlMs: 1, metaTtlMs: 1 },
    ])
    expect(h.optionsOf('workflow:w1')?.size).toBe(10)
    expect(h.optionsOf('pool:p')?.size).toBe(20)
    expect(h.optionsOf('global')?.size).toBe(30)
    expect(h.optionsOf('worker:w1')).toBeNull()
    expect(h.optionsOf('workflow:a:b')).toBeNull()
  })

  it('find overlapping patterns', () => {
    const yes: [string, string][] = [['workflow:*', 'workflow:{id}'], ['workflow:*', 'workflow:w1'], ['*:x', 'pool:*'], ['a*b', 'ab*'], ['global', 'global'], ['x{a}y{b}', 'x*']]
    const no: [string, string][] = [['workflow:*', 'pool:*'], ['workflow:*', 'workflow:a:b'], ['*', 'a:b'], ['workflow:*', 'workflow:'], ['global', 'globals'], ['a*', 'b*']]
    for (const [a, b] of yes) expect(patternsOverlap(a, b) && patternsOverlap(b, a), `${a} ~ ${b}`).toBe(true)
    for (const [a, b] of no) expect(patternsOverlap(a, b) || patternsOverlap(b, a), `${a} !~ ${b}`).toBe(false)
  })
})
