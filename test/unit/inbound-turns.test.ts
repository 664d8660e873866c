import { EventEmitter } from 'node:events'
import type { Duplex } from 'node:stream'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { FrameBoundaries } from '../../src/server/frame-boundaries.js'
import { InboundTurns } from '../../src/server/inbound-turns.js'

/** A masked client frame (text) with a payload of `n` bytes, as a client sends it. */
function frame(n: number): Buffer {
  const len = n < 126 ? [n] : n < 65536 ? [126, n >> 8, n & 0xff] : [127, 0, 0, 0, 0, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]
  const head = Buffer.from([0x81, 0x80 | (len[0] as number), ...len.slice(1), 1, 2, 3, 4])
  return Buffer.concat([head, Buffer.alloc(n, 0x61)])
}

describe('FrameBoundaries: frame ends read from the headers', () => {
  it('finds the frames a chunk completes, whatever the chunking, for 7-, 16- and 64-bit lengths', () => {
    const stream = Buffer.concat([frame(5), frame(0), frame(125), frame(126), frame(70_000), frame(3)])
    const whole = new FrameBoundaries()
    expect(whole.feed(stream)).toBe(70_000)
    // Byte by byte: each frame completes on its own last byte.
    const bytewise = new FrameBoundaries()
    const completed = [...stream].map((b) => bytewise.feed(Buffer.from([b]))).filter((n) => n >= 0)
    expect(completed).toEqual([5, 0, 125, 126, 70_000, 3])
    // A chunk ending inside a header or a payload completes nothing.
    const split = new FrameBoundaries()
    const big = frame(70_000)
    expect(split.feed(big.subarray(0, 5))).toBe(-1)
    expect(split.feed(big.subarray(5, 40_000))).toBe(-1)
    expect(split.feed(big.subarray(40_000))).toBe(70_000)
  })
})

/** A socket as the gate sees it: data events, pause and resume. */
class FakeSocket extends EventEmitter {
  paused = false
  pause(): this {
    this.paused = true
    return this
  }
  resume(): this {
    this.paused = false
    return this
  }
}

function guarded(turns: InboundTurns, name: string, log: string[]) {
  const socket = new FakeSocket()
  socket.on('data', (chunk: Buffer) => log.push(`${name}:${chunk.length}`))
  turns.guard(socket as unknown as Duplex, { isPaused: false })
  return socket
}

describe('InboundTurns: large frames per event-loop turn', () => {
  it('takes one large frame per turn beyond the allowance; the rest wait, paused, in order; small frames pass at once', async () => {
    const turns = new InboundTurns(256 * 1024)
    const log: string[] = []
    const [a, b, c, victim] = ['a', 'b', 'c', 'victim'].map((n) => guarded(turns, n, log)) as FakeSocket[]
    const big = frame(200_000)
    a!.emit('data', big)
    b!.emit('data', big)
    c!.emit('data', big)
    victim!.emit('data', frame(40))
    expect(log).toEqual([`a:${big.length}`, 'victim:46'])
    expect([a!.paused, b!.paused, c!.paused, victim!.paused]).toEqual([false, true, true, false])
    await nextTurn()
    expect(log).toEqual([`a:${big.length}`, 'victim:46', `b:${big.length}`])
    expect([b!.paused, c!.paused]).toEqual([false, true])
    await nextTurn()
    expect(log.slice(3)).toEqual([`c:${big.length}`])
    expect(c!.paused).toBe(false)
  })

  it("a connection's own frames keep their order behind its held chunk, and a closed socket's chunks are dropped", async () => {
    const turns = new InboundTurns(256 * 1024)
    const log: string[] = []
    const [a, b] = ['a', 'b'].map((n) => guarded(turns, n, log)) as FakeSocket[]
    const big = frame(200_000)
    a!.emit('data', big)
    b!.emit('data', big)
    b!.emit('data', frame(10))
    expect(log).toEqual([`a:${big.length}`])
    await nextTurn()
    expect(log).toEqual([`a:${big.length}`, `b:${big.length}`, 'b:16'])
    a!.emit('data', big)
    b!.emit('data', big)
    b!.emit('close')
    await nextTurn()
    expect(log.slice(3)).toEqual([`a:${big.length}`])
  })
})

describe('InboundTurns: ws lets go of the socket', () => {
  it("removing ws's own data listener (a close frame or a protocol error) removes the gate, and held chunks are not forwarded", async () => {
    const turns = new InboundTurns(256 * 1024)
    const log: string[] = []
    const a = guarded(turns, 'a', log)
    const socket = new FakeSocket()
    const wsListener = (chunk: Buffer) => log.push(`b:${chunk.length}`)
    socket.on('data', wsListener)
    turns.guard(socket as unknown as Duplex, { isPaused: false })
    const big = frame(200_000)
    a.emit('data', big)
    socket.emit('data', big)
    expect(log).toEqual([`a:${big.length}`])
    socket.removeListener('data', wsListener)
    expect(socket.listenerCount('data')).toBe(0)
    await nextTurn()
    socket.emit('data', frame(10))
    expect(log).toEqual([`a:${big.length}`])
  })
})
