import { type ChildProcess, fork } from 'node:child_process'
import { once } from 'node:events'
import { statSync } from 'node:fs'
import { createConnection } from 'node:net'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { IpcHub } from '../../src/broker/ipc-hub.js'
import { meshFrame } from '../../src/broker/ipc-mesh.js'
import { ROOT } from '../helpers/supervisor.js'

const WORKER = join(ROOT, 'test/fixtures/ipc-worker.mjs')
const HISTORY = { size: 1000, ttlMs: 60_000, metaTtlMs: 120_000 }

/** A forked worker and what it told the test, in order. */
class Child {
  readonly proc: ChildProcess
  readonly said: Record<string, unknown>[] = []
  constructor(hub: IpcHub, id: string) {
    this.proc = fork(WORKER, [id], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.proc.on('message', (m: { test?: Record<string, unknown> }) => {
      if (m.test !== undefined) this.said.push(m.test)
      this.proc.emit('test')
    })
    hub.attach(this.proc)
  }
  /** Resolves with the first thing said (after `from`) that has `key`. */
  async heard(key: string, count = 1): Promise<Record<string, unknown>[]> {
    const found = () => this.said.filter((m) => key in m)
    while (found().length < count) {
      if (this.proc.exitCode !== null) throw new Error(`worker exited (${this.proc.exitCode})`)
      await once(this.proc, 'test')
    }
    return found()
  }
  ask(test: Record<string, unknown>): void {
    this.proc.send({ test })
  }
  delivered(channel: string): { id: string; position?: { offset: number } }[] {
    return this.said.flatMap((m) => ('delivered' in m ? [m.delivered as { id: string; channel: string; position?: { offset: number } }] : [])).filter((p) => p.channel === channel)
  }
}

interface Stats {
  relayed: number
  sent: { sends: number; messages: number }
  mesh: { joined: boolean; connected: number; sentDirect: number; fellBack: number; refused: number } | null
}

const pub = (channel: string, id: string) => ({ id, channel, event: 'e', data: { id }, timestamp: new Date(0).toISOString() })

describe('ipc transport: workers meeting through their primary (two child processes)', () => {
  let hub: IpcHub
  const children: Child[] = []
  afterEach(async () => {
    for (const c of children.splice(0)) {
      c.proc.kill('SIGKILL')
      if (c.proc.exitCode === null && c.proc.signalCode === null) await once(c.proc, 'exit')
    }
    hub.close()
  })

  async function start(n: number): Promise<Child[]> {
    hub = new IpcHub()
    const started = Array.from({ length: n }, (_, i) => new Child(hub, `w${i}`))
    children.push(...started)
    await Promise.all(started.map((c) => c.heard('ready')))
    return started
  }

  it('a publication reaches every subscribing worker once, and only the workers that subscribe', async () => {
    const [a, b, c] = (await start(3)) as [Child, Child, Child]
    a.ask({ subscribe: 'room:x' })
    b.ask({ subscribe: 'room:x' })
    await Promise.all([a.heard('subscribed'), b.heard('subscribed')])
    c.ask({ publish: [pub('room:x', 'p1')] })
    await c.heard('published')
    await Promise.all([a, b].map(async (w) => {
      while (w.delivered('room:x').length < 1) await once(w.proc, 'test')
    }))
    // c delivered its own publication locally at once (its sink counts it), and nothing came back to it.
    for (const w of [a, b, c]) expect(w.delivered('room:x').map((p) => p.id)).toEqual(['p1'])
    for (const w of [a, b, c]) w.ask({ stats: true })
    const [sa, sb, sc] = await Promise.all([a, b, c].map(async (w) => (await w.heard('stats'))[0]!.stats as { relayed: number; instances: number }))
    expect([sa!.relayed, sb!.relayed, sc!.relayed]).toEqual([1, 1, 0])
    expect(hub.malformed).toBe(0)
  })

  it('a publishing worker that subscribes too is not sent its own publication back, yet counts as a receiver', async () => {
    const [a, b] = (await start(2)) as [Child, Child]
    a.ask({ subscribe: 'room:y' })
    b.ask({ subscribe: 'room:y' })
    await Promise.all([a.heard('subscribed'), b.heard('subscribed')])
    a.ask({ publish: [pub('room:y', 'p1')] })
    const [published] = await a.heard('published')
    // The other instances reached: b (the receivers counted a too, and the cluster layer took it off).
    expect(published!.instances).toEqual([1])
    while (b.delivered('room:y').length < 1) await once(b.proc, 'test')
    // b's publication after a's: when it reaches a, nothing of a's own came before it on the channel.
    b.ask({ publish: [pub('room:y', 'p2')] })
    await b.heard('published')
    while (a.delivered('room:y').length < 2) await once(a.proc, 'test')
    for (const w of [a, b]) expect(w.delivered('room:y').map((p) => p.id)).toEqual(['p1', 'p2'])
    for (const w of [a, b]) w.ask({ stats: true })
    const [sa, sb] = await Promise.all([a, b].map(async (w) => (await w.heard('stats'))[0]!.stats as { relayed: number }))
    expect([sa!.relayed, sb!.relayed]).toEqual([1, 1])
    expect(hub.malformed).toBe(0)
  })

  it('many publications in one turn from one worker reach the other workers exactly once and in order, in batches, history offsets among them', async () => {
    const [a, b, c] = (await start(3)) as [Child, Child, Child]
    for (const w of [b, c]) {
      w.ask({ subscribe: 'room:many' })
      await w.heard('subscribed')
      w.ask({ subscribe: 'room:kept' })
      await w.heard('subscribed', 2)
    }
    // a publishes them all in one turn: plain ones on room:many, every third one stored on room:kept.
    const n = 600
    const pubs = Array.from({ length: n }, (_, i) => (i % 3 === 2 ? pub('room:kept', `k${i}`) : pub('room:many', `m${i}`)))
    a.ask({ publish: pubs, history: HISTORY, historyChannels: ['room:kept'] })
    const [published] = await a.heard('published')
    const kept = pubs.filter((p) => p.channel === 'room:kept')
    expect(published!.published).toEqual(pubs.map((p) => (p.channel === 'room:kept' ? kept.indexOf(p) + 1 : null)))
    for (const w of [b, c]) {
      while (w.delivered('room:many').length + w.delivered('room:kept').length < n) await once(w.proc, 'test')
      expect(w.delivered('room:many').map((p) => p.id)).toEqual(pubs.filter((p) => p.channel === 'room:many').map((p) => p.id))
      expect(w.delivered('room:kept').map((p) => p.id)).toEqual(kept.map((p) => p.id))
      expect(w.delivered('room:kept').map((p) => p.position?.offset)).toEqual(kept.map((_, i) => i + 1))
    }
    for (const w of [a, b, c]) w.ask({ stats: true })
    const [sa, sb, sc] = await Promise.all([a, b, c].map(async (w) => (await w.heard('stats'))[0]!.stats as { relayed: number; sent: { sends: number; messages: number }; mesh: unknown }))
    // Exactly once: nothing more came, and nothing came back to a (it subscribes neither channel:
    // it delivers its plain publications locally, its stored ones only if it subscribed).
    expect([sa!.relayed, sb!.relayed, sc!.relayed]).toEqual([0, n, n])
    expect(a.delivered('room:many').length + a.delivered('room:kept').length).toBe(n - kept.length)
    // Batched both ways: a's n requests went up in fewer sends, and each other worker got its n in fewer.
    expect(sa!.sent.messages).toBeGreaterThanOrEqual(n)
    expect(sa!.sent.sends).toBeLessThan(n / 2)
    for (const w of [b, c]) expect(hub.sentTo(w.proc)!.sends).toBeLessThan(n / 2)
    expect(hub.malformed).toBe(0)
  })

  it('history offsets come from one sequence: a storm from two workers is numbered 1..N without a gap, in order on every worker', async () => {
    const [a, b] = (await start(2)) as [Child, Child]
    a.ask({ subscribe: 'room:h' })
    b.ask({ subscribe: 'room:h' })
    await Promise.all([a.heard('subscribed'), b.heard('subscribed')])
    const each = 100
    a.ask({ publish: Array.from({ length: each }, (_, i) => pub('room:h', `a${i}`)), history: HISTORY })
    b.ask({ publish: Array.from({ length: each }, (_, i) => pub('room:h', `b${i}`)), history: HISTORY })
    const [pa, pb] = await Promise.all([a.heard('published'), b.heard('published')])
    const offsets = [...(pa![0]!.published as number[]), ...(pb![0]!.published as number[])].sort((x, y) => x - y)
    expect(offsets).toEqual(Array.from({ length: 2 * each }, (_, i) => i + 1))
    for (const w of [a, b]) {
      while (w.delivered('room:h').length < 2 * each) await once(w.proc, 'test')
      expect(w.delivered('room:h').map((p) => p.position?.offset)).toEqual(offsets)
    }
  })

  /** Each worker's figures, asked at once. */
  async function stats(ws: Child[]): Promise<Stats[]> {
    const before = ws.map((w) => w.said.filter((m) => 'stats' in m).length)
    for (const w of ws) w.ask({ stats: true })
    return Promise.all(ws.map(async (w, i) => (await w.heard('stats', before[i]! + 1))[before[i]!]!.stats as Stats))
  }

  /** Until every worker has joined the mesh and has a socket to each other one. */
  async function meshUp(ws: Child[]): Promise<void> {
    for (;;) {
      const all = await stats(ws)
      if (all.every((x) => x.mesh?.joined === true && x.mesh.connected === ws.length - 1)) return
      await new Promise((resolve) => setImmediate(resolve))
    }
  }

  it('room publications go from worker to worker directly: the primary relays few of them, each arrives once and in order', async () => {
    const [a, b, c] = (await start(3)) as [Child, Child, Child]
    for (const w of [b, c]) {
      w.ask({ subscribe: 'room:d' })
      await w.heard('subscribed')
    }
    await meshUp([a, b, c])
    const relayedBefore = [b, c].map((w) => hub.sentTo(w.proc)!.messages)
    const n = 200
    const pubs = Array.from({ length: n }, (_, i) => pub('room:d', `d${i}`))
    // One publication in flight, as a client waiting for each answer: a heartbeat in flight (every
    // 200 ms here) sends the one publication beside it through the primary, and no more.
    a.ask({ turns: pubs.map((p) => [p]), settle: true })
    await a.heard('published')
    for (const w of [b, c]) {
      while (w.delivered('room:d').length < n) await once(w.proc, 'test')
      expect(w.delivered('room:d').map((p) => p.id)).toEqual(pubs.map((p) => p.id))
    }
    const [sa, sb, sc] = await stats([a, b, c])
    expect(sa!.mesh!.sentDirect + sa!.mesh!.fellBack).toBe(n)
    expect(sa!.mesh!.sentDirect).toBeGreaterThan(n / 2)
    // Few of them went through the primary (beside them it sent heartbeats and the stats' own turn).
    ;[b, c].forEach((w, i) => expect(hub.sentTo(w.proc)!.messages - relayedBefore[i]!).toBeLessThan(20 + sa!.mesh!.fellBack))
    expect([sb!.relayed, sc!.relayed]).toEqual([n, n])
    expect(sb!.mesh!.refused + sc!.mesh!.refused).toBe(0)
  })

  it("one order per publisher whichever way each message went: stored ones through the primary, plain ones directly", async () => {
    const [a, b] = (await start(2)) as [Child, Child]
    for (const ch of ['room:plain', 'room:kept']) {
      b.ask({ subscribe: ch })
      await b.heard('subscribed', ch === 'room:plain' ? 1 : 2)
    }
    await meshUp([a, b])
    // Turns of plain, stored, plain, and plain alone: each stored one makes the next ones of its turn wait for the primary.
    const turns = Array.from({ length: 40 }, (_, t) =>
      t % 2 === 0
        ? [pub('room:plain', `p${t}a`), pub('room:kept', `k${t}`), pub('room:plain', `p${t}b`)]
        : [pub('room:plain', `p${t}a`), pub('room:plain', `p${t}b`)],
    )
    // Half the turns settled first (the stored one answered: the next turn may go directly), half not.
    a.ask({ turns: turns.slice(0, 20), history: HISTORY, historyChannels: ['room:kept'], settle: true })
    await a.heard('published')
    a.ask({ turns: turns.slice(20), history: HISTORY, historyChannels: ['room:kept'] })
    await a.heard('published', 2)
    const all = turns.flat()
    const seen = () => b.said.flatMap((m) => ('delivered' in m ? [(m.delivered as { id: string }).id] : []))
    while (seen().length < all.length) await once(b.proc, 'test')
    expect(seen()).toEqual(all.map((p) => p.id))
    const [sa] = await stats([a])
    // Both ways were taken.
    expect(sa!.mesh!.sentDirect).toBeGreaterThan(0)
    expect(sa!.mesh!.fellBack).toBeGreaterThan(0)
  })

  it('a subscribe is answered once every worker in the mesh applied it: a direct publication right after reaches it', async () => {
    const [a, b] = (await start(2)) as [Child, Child]
    b.ask({ subscribe: 'room:warm' })
    await b.heard('subscribed')
    await meshUp([a, b])
    const rounds = 40
    for (let i = 0; i < rounds; i++) {
      b.ask({ subscribe: `room:n${i}` })
      await b.heard('subscribed', i + 2)
      a.ask({ turns: [[pub(`room:n${i}`, `n${i}`)]] })
      await a.heard('published', i + 1)
    }
    for (let i = 0; i < rounds; i++) while (b.delivered(`room:n${i}`).length < 1) await once(b.proc, 'test')
    const [sa] = await stats([a])
    // Most went directly (one may meet a heartbeat in flight and go through the primary).
    expect(sa!.mesh!.sentDirect).toBeGreaterThan(rounds / 2)
  })

  it('a publication sent directly has left its worker once it is answered: a worker killed right after, its receivers get it all the same', async () => {
    const [a, b] = (await start(2)) as [Child, Child]
    b.ask({ subscribe: 'room:crash' })
    await b.heard('subscribed')
    await meshUp([a, b])
    const pubs = Array.from({ length: 5 }, (_, i) => pub('room:crash', `c${i}`))
    const died = once(a.proc, 'exit')
    a.ask({ publish: pubs, die: true })
    await died
    while (b.delivered('room:crash').length < pubs.length) await once(b.proc, 'test')
    expect(b.delivered('room:crash').map((p) => p.id)).toEqual(pubs.map((p) => p.id))
  })

  it("a connection to a worker's mesh socket without the secret is refused, and nothing it sends is delivered", async () => {
    const [a, b] = (await start(2)) as [Child, Child]
    b.ask({ subscribe: 'room:s' })
    await b.heard('subscribed')
    await meshUp([a, b])
    const dir = hub.meshDir!
    // Only the service's user may enter the directory.
    expect(statSync(dir).mode & 0o777).toBe(0o700)
    const frame = meshFrame
    const forged = JSON.stringify({ v: 1, type: 'publication', origin: 'x', pub: pub('room:s', 'forged') })
    const attempts = [
      Buffer.concat([frame(0, JSON.stringify({ id: 0, token: 'f'.repeat(48) })), frame(0, forged)]),
      Buffer.concat([frame(0, '{"id":0}'), frame(0, forged)]),
      frame(0, 'not json'),
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]),
    ]
    for (const bytes of attempts) {
      const sock = createConnection(join(dir, '1.sock'))
      sock.on('error', () => {})
      sock.end(bytes)
      await once(sock, 'close')
    }
    const [sb] = await stats([b])
    expect(sb!.mesh!.refused).toBe(attempts.length)
    expect(b.delivered('room:s')).toEqual([])
    // The mesh still works for the workers themselves.
    a.ask({ turns: [[pub('room:s', 'real')]] })
    while (b.delivered('room:s').length < 1) await once(b.proc, 'test')
    expect(b.delivered('room:s').map((p) => p.id)).toEqual(['real'])
  })
})
