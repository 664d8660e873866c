import { once } from 'node:events'
import type { Socket } from 'node:net'
import WebSocket from 'ws'
import { afterEach, describe, expect, it } from 'vitest'
import { TestClient } from '../helpers/client.js'
import { startService, type Started } from '../helpers/server.js'

/** A raw subscriber that records every frame with its text/binary flag. */
async function rawSubscriber(url: string, channel: string): Promise<{ ws: WebSocket; frames: { text: string; binary: boolean }[]; id: string }> {
  const ws = new WebSocket(url)
  const frames: { text: string; binary: boolean }[] = []
  const welcome = once(ws, 'message')
  await once(ws, 'open')
  const [first] = (await welcome) as [Buffer]
  const id = (JSON.parse(first.toString()) as { data: { connection_id: string } }).data.connection_id
  ws.send(JSON.stringify({ type: 'request', event: 'subscribe', data: { channel }, correlation_id: 's' }))
  await once(ws, 'message')
  ws.on('message', (data: Buffer, binary: boolean) => frames.push({ text: data.toString(), binary }))
  return { ws, frames, id }
}

/** Resolves once `frames` holds `n` entries (checked on each message event). */
function received(sub: { ws: WebSocket; frames: unknown[] }, n: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (sub.frames.length >= n) {
        sub.ws.off('message', check)
        resolve()
      }
    }
    sub.ws.on('message', check)
    sub.ws.once('close', () => reject(new Error(`closed after ${sub.frames.length} of ${n} frames`)))
    check()
  })
}

describe('fan-out over real sockets', () => {
  let s: Started
  afterEach(async () => s?.server.close())

  it('sends a broadcast as a text frame, byte-identical to its encoding, to every subscriber', async () => {
    s = await startService('patterns')
    const subs = await Promise.all([1, 2, 3].map(() => rawSubscriber(s.url, 'patterns:p')))
    const pub = s.server.emit('patterns:p', 'pattern.detected', { category: 'p', pattern: { k: 'é🙂' } })
    await Promise.all(subs.map((sub) => received(sub, 1)))
    const expected = s.server.codec.encodeEvent(pub)
    for (const sub of subs) {
      expect(sub.frames).toEqual([{ text: expected, binary: false }])
      sub.ws.close()
    }
  })

  it('keeps per-subscriber order across a burst of broadcasts and direct sends in one turn', async () => {
    s = await startService('patterns')
    const subs = await Promise.all([1, 2, 3].map(() => rawSubscriber(s.url, 'patterns:p')))
    const n = 500
    for (let i = 0; i < n; i++) {
      s.server.emit('patterns:p', 'pattern.detected', { category: 'p', pattern: i })
      if (i % 100 === 0) for (const sub of subs) s.server.sendTo(sub.id, 'note', { after: i })
    }
    const perSub = n + n / 100
    await Promise.all(subs.map((sub) => received(sub, perSub)))
    for (const sub of subs) {
      const seen = sub.frames.map((f) => JSON.parse(f.text) as { event: string; data: { pattern?: number; after?: number } })
      const patterns = seen.filter((f) => f.event === 'pattern.detected').map((f) => f.data.pattern)
      expect(patterns).toEqual([...Array(n).keys()])
      // Each direct message comes right after the broadcast it followed.
      seen.forEach((f, i) => {
        if (f.event === 'note') expect(seen[i - 1]?.data.pattern).toBe(f.data.after)
      })
      expect(sub.frames.every((f) => !f.binary)).toBe(true)
      sub.ws.close()
    }
  })

  it('does not take a burst larger than max_buffered_bytes in one turn for a slow consumer', async () => {
    s = await startService('patterns', { max_buffered_bytes: 64 * 1024 })
    const sub = await rawSubscriber(s.url, 'patterns:p')
    const big = 'x'.repeat(4000)
    const n = 100 // ~400 KB in one turn: 6× the bound, but the kernel takes it at once
    for (let i = 0; i < n; i++) s.server.emit('patterns:p', 'pattern.detected', { category: 'p', pattern: i, big })
    await received(sub, n)
    expect(s.server.stats.slowConsumerCloses).toBe(0)
    sub.ws.close()
  })

  it('closes a subscriber that stops reading as a slow consumer (4008) while the others get every event in order', async () => {
    s = await startService('patterns', { max_buffered_bytes: 256 * 1024 })
    const fast = await rawSubscriber(s.url, 'patterns:p')
    const slow = await TestClient.connect(s.url)
    await slow.subscribe('patterns:p')
    ;(slow.ws as unknown as { _socket: Socket })._socket.pause()
    const big = 'x'.repeat(16 * 1024)
    let sent = 0
    // Publish a batch per turn until the stalled subscriber's backlog passes the bound.
    while (s.server.stats.slowConsumerCloses === 0 && sent < 20_000) {
      for (let i = 0; i < 20; i++) s.server.emit('patterns:p', 'pattern.detected', { category: 'p', pattern: sent++, big })
      await new Promise((resolve) => setImmediate(resolve))
    }
    expect(s.server.stats.slowConsumerCloses).toBe(1)
    await received(fast, sent)
    expect(fast.frames.map((f) => (JSON.parse(f.text) as { data: { pattern: number } }).data.pattern)).toEqual([...Array(sent).keys()])
    fast.ws.close()
    slow.ws.terminate()
  })
})
