import { EventEmitter, once } from 'node:events'
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { IpcHub } from '../../src/broker/ipc-hub.js'
import { IPC_KEY } from '../../src/broker/ipc-messages.js'

/** One worker's end of its IPC channel as the hub sees it: what the hub sent, and requests made from it. */
class Worker extends EventEmitter {
  readonly got: Record<string, unknown>[] = []
  #next = 0
  isConnected = () => true
  send(message: unknown, _h?: undefined, _o?: undefined, cb?: (err: Error | null) => void): boolean {
    const payload = (message as Record<string, unknown>)[IPC_KEY]
    this.got.push(...((Array.isArray(payload) ? payload : [payload]) as Record<string, unknown>[]))
    cb?.(null)
    this.emit('got')
    return true
  }
  request(req: Record<string, unknown>): number {
    const id = this.#next++
    this.emit('message', { [IPC_KEY]: { v: 1, id, ...req } })
    return id
  }
  reply(id: number, value: unknown): void {
    this.emit('message', { [IPC_KEY]: { v: 1, op: 'reply', id, value } })
  }
  async answer(id: number): Promise<Record<string, unknown>> {
    for (;;) {
      const a = this.got.find((m) => (m.op === 'done' || m.op === 'failed') && m.id === id)
      if (a !== undefined) return a
      await once(this, 'got')
    }
  }
  async next(op: string, from = 0): Promise<Record<string, unknown>> {
    for (;;) {
      const a = this.got.slice(from).find((m) => m.op === op)
      if (a !== undefined) return a
      await once(this, 'got')
    }
  }
}

const turn = () => new Promise((resolve) => setImmediate(resolve))

describe('the primary keeps the workers’ mesh directory (ipc-hub.ts)', () => {
  let hub: IpcHub
  afterEach(() => hub.close())

  function workers(n: number): Worker[] {
    hub = new IpcHub()
    return Array.from({ length: n }, () => {
      const w = new Worker()
      hub.attach(w)
      return w
    })
  }

  it('answers a subscribe only once every worker in the mesh has applied it', async () => {
    const [a, b] = workers(2) as [Worker, Worker]
    const joined = (await a.answer(a.request({ op: 'mesh_join' }))).value as { id: number; dir: string; peers: unknown[] }
    expect(joined.peers).toEqual([{ id: 1, path: null, channels: [], every: false }])
    const sub = b.request({ op: 'subscribe', channels: ['room:x'] })
    const ask = await a.next('ask')
    expect(ask).toMatchObject({ name: 'mesh_interest', arg: { mid: 1, add: ['room:x'] } })
    // Several turns later b still has no answer: a has not applied it.
    for (let i = 0; i < 5; i++) await turn()
    expect(b.got.some((m) => m.id === sub && m.op === 'done')).toBe(false)
    a.reply(ask.id as number, true)
    expect(await b.answer(sub)).toMatchObject({ op: 'done', value: true })
  })

  it('does not wait longer than its bound for a worker that does not answer', async () => {
    const [a, b] = workers(2) as [Worker, Worker]
    await a.answer(a.request({ op: 'mesh_join' }))
    const started = Date.now()
    const sub = b.request({ op: 'subscribe', channels: ['room:x'] })
    expect(await b.answer(sub)).toMatchObject({ op: 'done', value: true })
    expect(Date.now() - started).toBeGreaterThanOrEqual(900)
  })

  it('tags what it relays from a worker in the mesh with its id and direct count, and says whom it reached', async () => {
    const [a, b, c] = workers(3) as [Worker, Worker, Worker]
    await a.answer(a.request({ op: 'mesh_join' }))
    for (const w of [b, c]) {
      const from = a.got.length
      const sub = w.request({ op: 'subscribe', channels: ['room:x'] })
      // a is in the mesh: asked to apply it before the subscribe is answered.
      a.reply((await a.next('ask', from)).id as number, true)
      await w.answer(sub)
    }
    const pub = a.request({ op: 'publish', channel: 'room:x', bytes: '{}', d: { 1: 3 } })
    expect(await a.answer(pub)).toMatchObject({ op: 'done', value: 2, to: [1, 2] })
    expect(await b.next('message')).toMatchObject({ bytes: '{}', f: 0, d: 3 })
    expect(await c.next('message')).toMatchObject({ bytes: '{}', f: 0, d: 0 })
    // A worker not in the mesh is relayed for as before: untagged, and its answer names no one.
    const plain = b.request({ op: 'publish', channel: 'room:x', bytes: '[]' })
    const answer = await b.answer(plain)
    expect(answer).toMatchObject({ op: 'done', value: 2 })
    expect(answer.to).toBeUndefined()
    const relayed = c.got.filter((m) => m.op === 'message')
    expect(relayed.at(-1)).toEqual({ v: 1, op: 'message', bytes: '[]' })
  })

  it('tells the workers in the mesh where a worker listens, what it drops, and when it is gone; removes the directory at close', async () => {
    const [a, b] = workers(2) as [Worker, Worker]
    const { dir } = (await a.answer(a.request({ op: 'mesh_join' }))).value as { dir: string }
    await b.answer(b.request({ op: 'mesh_join' }))
    await b.answer(b.request({ op: 'mesh_up' }))
    expect(await a.next('mesh')).toMatchObject({ kind: 'peer', mid: 1, path: `${dir}/1.sock` })
    const from = a.got.length
    await b.answer(b.request({ op: 'unsubscribe', channel: 'room:none' }))
    b.request({ op: 'subscribe_rooms' })
    const ask = await a.next('ask', from)
    expect(ask).toMatchObject({ arg: { mid: 1, every: true } })
    a.reply(ask.id as number, true)
    b.request({ op: 'unsubscribe_rooms' })
    expect(await a.next('mesh', from)).toMatchObject({ kind: 'interest', mid: 1, every: false })
    hub.detach(b)
    for (;;) {
      if (a.got.some((m) => m.op === 'mesh' && m.kind === 'gone' && m.mid === 1)) break
      await once(a, 'got')
    }
    expect(existsSync(dir)).toBe(true)
    hub.close()
    expect(existsSync(dir)).toBe(false)
  })

  it("removes the mesh directories a killed primary left, not one whose workers still listen", async () => {
    // Pids above any pid_max: no such process runs here.
    const dead = join(tmpdir(), `roomcast-mesh-99999998-${process.pid}`)
    const listening = join(tmpdir(), `roomcast-mesh-99999999-${process.pid}`)
    for (const d of [dead, listening]) mkdirSync(d, { recursive: true, mode: 0o700 })
    writeFileSync(join(dead, '0.sock'), '')
    // Another pid namespace's primary of that pid, alive: its worker's socket accepts.
    const server = createServer().listen(join(listening, '0.sock'))
    await once(server, 'listening')
    try {
      const [a] = workers(1) as [Worker]
      await a.answer(a.request({ op: 'mesh_join' }))
      for (;;) {
        if (!existsSync(dead)) break
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      expect(existsSync(listening)).toBe(true)
    } finally {
      server.close()
      rmSync(listening, { recursive: true, force: true })
      rmSync(dead, { recursive: true, force: true })
    }
  })
})
