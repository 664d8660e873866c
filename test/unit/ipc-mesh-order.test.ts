import { EventEmitter, once } from 'node:events'
import { unlinkSync } from 'node:fs'
import { createConnection } from 'node:net'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { IpcHub } from '../../src/broker/ipc-hub.js'
import { IpcLink } from '../../src/broker/ipc-link.js'
import { IPC_KEY } from '../../src/broker/ipc-messages.js'
import { meshFrame, type MeshTimings } from '../../src/broker/ipc-mesh.js'
import { IpcTransport } from '../../src/broker/ipc-transport.js'

/**
 * One worker's IPC channel to an in-process IpcHub, each direction of which the test can hold
 * back (a slow channel): the real IpcLink, IpcMesh (its sockets are real) and IpcHub around it.
 */
class Channel {
  readonly port = new EventEmitter() as EventEmitter & { connected: boolean; send: (m: unknown, h?: undefined, o?: undefined, cb?: (e: Error | null) => void) => boolean }
  readonly peer = new EventEmitter() as EventEmitter & { isConnected: () => boolean; send: (m: unknown, h?: undefined, o?: undefined, cb?: (e: Error | null) => void) => boolean }
  /** Messages held back per direction while `held` says so. */
  readonly #up: unknown[] = []
  readonly #down: unknown[] = []
  readonly #passed: unknown[] = []
  holdUp = false
  holdDown = false
  constructor() {
    this.port.connected = true
    this.port.send = (m, _h, _o, cb) => {
      const copy = JSON.parse(JSON.stringify(m)) as unknown
      if (this.holdUp) this.#up.push(copy)
      else setImmediate(() => this.#pass(copy))
      cb?.(null)
      return true
    }
    this.peer.isConnected = () => true
    this.peer.send = (m, _h, _o, cb) => {
      const copy = JSON.parse(JSON.stringify(m)) as unknown
      if (this.holdDown) this.#down.push(copy)
      else setImmediate(() => this.port.emit('message', copy))
      cb?.(null)
      return true
    }
  }
  /** Messages held back in one direction, and those passed up to the primary so far (each unbatched). */
  held(way: 'up' | 'down'): Record<string, unknown>[] {
    return (way === 'up' ? this.#up : this.#down).flatMap(unbatch)
  }
  passed(): Record<string, unknown>[] {
    return this.#passed.flatMap(unbatch)
  }
  releaseUp(): void {
    this.holdUp = false
    for (const m of this.#up.splice(0)) this.#pass(m)
  }
  #pass(m: unknown): void {
    this.#passed.push(m)
    this.peer.emit('message', m)
  }
  releaseDown(): void {
    this.holdDown = false
    for (const m of this.#down.splice(0)) this.port.emit('message', m)
  }
}

/** A worker: its link and transport, and the cluster messages it was handed, in order. */
class Worker {
  readonly channel = new Channel()
  readonly link = new IpcLink(this.channel.port)
  readonly transport: IpcTransport
  readonly got: string[] = []
  readonly events = new EventEmitter()
  /** The secret the primary handed this worker when it joined. */
  token: string | null = null
  constructor(hub: IpcHub, timings: MeshTimings = {}) {
    this.transport = new IpcTransport(this.link, timings)
    this.channel.port.on('message', (m: unknown) => {
      for (const a of unbatch(m)) if (a.op === 'done' && typeof (a.value as { token?: unknown } | null)?.token === 'string') this.token = (a.value as { token: string }).token
    })
    hub.attach(this.channel.peer)
  }
  async open(): Promise<void> {
    const noop = () => {}
    await this.transport.open('s', 'w', {
      message: (bytes) => {
        this.got.push(bytes)
        this.events.emit('got')
      },
      sendReady: noop,
      receiveReady: noop,
      lost: noop,
    })
  }
  async received(n: number): Promise<string[]> {
    while (this.got.length < n) await once(this.events, 'got')
    return this.got
  }
  /** A stored publication: through the primary, as IpcHistory sends it. */
  append(channel: string, id: string): Promise<unknown> {
    const pub = { id, channel, event: 'e', data: {}, timestamp: new Date(0).toISOString() }
    return this.link.ask({ op: 'append', channel, head: id, pub, opts: { size: 100, ttlMs: 60_000, metaTtlMs: 60_000 } })
  }
}

function unbatch(raw: unknown): Record<string, unknown>[] {
  const payload = (raw as Record<string, unknown>)[IPC_KEY]
  return (Array.isArray(payload) ? payload : [payload]) as Record<string, unknown>[]
}

const turn = () => new Promise((resolve) => setImmediate(resolve))
async function until(ok: () => boolean): Promise<void> {
  while (!ok()) await turn()
}

describe('the mesh keeps one order per sender whichever way its messages go (ipc-mesh.ts, real sockets)', () => {
  let hub: IpcHub
  afterEach(() => hub.close())

  async function meshOf(n: number): Promise<Worker[]> {
    hub = new IpcHub()
    const ws = Array.from({ length: n }, () => new Worker(hub))
    await Promise.all(ws.map((w) => w.open()))
    await until(() => ws.every((w) => w.link.mesh?.joined === true && w.link.mesh.connected === n - 1))
    return ws
  }

  /** Until r has read `n` messages, delivered or held. */
  const read = (r: Worker, n: number) => until(() => r.got.length + (r.link.mesh?.held ?? 0) >= n)

  it('a receiver that subscribes while a relaying request of the sender is in flight gets that message before the sender’s next direct one', async () => {
    const [s, r] = (await meshOf(2)) as [Worker, Worker]
    // s's stored publication leaves before s hears that r subscribes room:x; the primary hears r first.
    s.channel.holdUp = true
    void s.append('room:x', 'first')
    void r.transport.subscribe(['room:x'])
    // s has applied r's interest (its answer waits behind its request).
    await until(() => s.channel.held('up').some((m) => m.op === 'reply'))
    // The primary's answer to s and what it relays to r are slow to arrive.
    s.channel.holdDown = true
    r.channel.holdDown = true
    s.channel.releaseUp()
    const direct = s.link.mesh!.sentDirect
    void s.transport.publish('room:x', 'second')
    if (s.link.mesh!.sentDirect > direct) await read(r, 1)
    r.channel.releaseDown()
    s.channel.releaseDown()
    await read(r, 2)
    expect(r.got).toEqual([expect.stringContaining('first'), 'second'])
  })

  it('a relaying request made while the sender was joining is counted: its message comes before the first direct one', async () => {
    hub = new IpcHub()
    const r = new Worker(hub)
    await r.open()
    await until(() => r.channel.passed().some((m) => m.op === 'mesh_up'))
    await r.transport.subscribe(['room:x'])
    const s = new Worker(hub)
    // Its join and a stored publication leave in one turn: both answers come back in one.
    await s.open()
    const stored = s.append('room:x', 'first')
    r.channel.holdDown = true
    await stored
    await until(() => s.link.mesh?.joined === true && s.link.mesh.connected === 1)
    await s.transport.publish('room:x', 'second')
    expect(s.link.mesh!.sentDirect).toBe(1)
    await read(r, 1)
    r.channel.releaseDown()
    await read(r, 2)
    expect(r.got).toEqual([expect.stringContaining('first'), 'second'])
  })

  it('what was sent to a receiver whose connection then failed is not counted: its later messages are not held', async () => {
    hub = new IpcHub()
    const r = new Worker(hub)
    await r.open()
    await until(() => r.channel.passed().some((m) => m.op === 'mesh_up'))
    await r.transport.subscribe(['room:x'])
    // r's socket file is gone (a cleaner of the temporary directory): s's connect to it fails.
    unlinkSync(join(hub.meshDir!, '0.sock'))
    const s = new Worker(hub)
    s.channel.holdDown = true
    await s.open()
    await until(() => s.channel.held('down').length > 0)
    s.channel.releaseDown()
    // s publishes as soon as it has joined, before its connect has failed.
    for (let i = 0; i < 100 && s.link.mesh?.joined !== true; i++) await null
    expect(s.link.mesh?.joined).toBe(true)
    const first = s.transport.publish('room:x', 'first')
    await first
    await until(() => s.link.mesh!.connected === 0)
    await s.append('room:x', 'second')
    await s.transport.publish('room:x', 'third')
    await read(r, 2)
    // Nothing waits for 'first': it either came or, never having left, is not counted.
    expect(r.link.mesh!.held).toBe(0)
    await read(r, 3)
    expect(r.got).toEqual(['first', expect.stringContaining('second'), 'third'])
  })

  it('a message held for what its sender never sends the other way goes out after the hold bound, counted as overdue', async () => {
    hub = new IpcHub()
    const r = new Worker(hub, { holdMaxMs: 300 })
    await r.open()
    await until(() => r.channel.passed().some((m) => m.op === 'mesh_up') && r.token !== null)
    // A peer that knows the secret (a worker gone wrong) says 5 messages came through the primary before this one: none did.
    const sock = createConnection(join(hub.meshDir!, '0.sock'))
    sock.write(Buffer.concat([meshFrame(0, JSON.stringify({ id: 999, token: r.token })), meshFrame(5, 'late')]))
    await read(r, 1)
    expect(r.got).toEqual([])
    expect(r.link.mesh!.held).toBe(1)
    await until(() => r.got.length === 1)
    expect(r.got).toEqual(['late'])
    expect(r.link.mesh!.held).toBe(0)
    expect(r.link.mesh!.overdue).toBe(1)
    sock.destroy()
  })

  it('a connection that never says who it is is dropped after the hello bound', async () => {
    hub = new IpcHub()
    const r = new Worker(hub, { helloTimeoutMs: 200 })
    await r.open()
    await until(() => r.channel.passed().some((m) => m.op === 'mesh_up'))
    // Half a hello: a header and nothing more.
    const sock = createConnection(join(hub.meshDir!, '0.sock'))
    sock.on('error', () => {})
    sock.write(Buffer.from([0, 0, 0, 40, 0, 0, 0, 0]))
    await once(sock, 'close')
    expect(r.link.mesh!.refused).toBe(1)
  })

  it('a directory change read in the same batch as the join answer is applied: the joining worker sends to the new subscriber', async () => {
    hub = new IpcHub()
    const r = new Worker(hub)
    await r.open()
    await until(() => r.link.mesh?.joined === true)
    const s = new Worker(hub)
    // s's join is answered, and r's subscribe asked of s, before s reads either.
    s.channel.holdDown = true
    await s.open()
    await until(() => s.channel.held('down').some((m) => m.op === 'done'))
    const subscribed = r.transport.subscribe(['room:x'])
    await until(() => s.channel.held('down').some((m) => m.op === 'ask'))
    s.channel.releaseDown()
    await subscribed
    await until(() => s.link.mesh?.joined === true && s.link.mesh.connected === 1)
    // r subscribes room:x: s sends it there (directly or not), and r gets it.
    expect(await s.transport.publish('room:x', 'after-join')).toBe(1)
    await r.received(1)
    expect(r.got).toEqual(['after-join'])
  })
})
