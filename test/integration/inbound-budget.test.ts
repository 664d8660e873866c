import { afterEach, describe, expect, it } from 'vitest'
import { TestClient } from '../helpers/client.js'
import { startService, type Started } from '../helpers/server.js'

/** A subscribe request padded to exactly `bytes` bytes with a string (cheap to parse: only bytes count). */
const padded = (bytes: number) => {
  const head = '{"type":"request","event":"subscribe","correlation_id":"big","data":{"pad":"'
  const tail = '"}}'
  return head + 'x'.repeat(bytes - head.length - tail.length) + tail
}

/** A frame with `n` object keys in small objects (plus its own five), or `n` array elements. */
const keyed = (n: number) => `{"type":"request","event":"subscribe","correlation_id":"keys","data":{"d":[${Array.from({ length: n }, (_, i) => `{"k${i}":0}`).join(',')}]}}`
const listed = (n: number) => `{"type":"request","event":"subscribe","correlation_id":"elements","data":{"d":[${Array.from({ length: n }, () => '0').join(',')}]}}`

describe('inbound budget per connection: bytes per second, keys and elements per frame', () => {
  let s: Started | undefined
  afterEach(async () => {
    await s?.server.close()
    s = undefined
  })

  it('a client over byte_rate_limit gets RATE_LIMIT_EXCEEDED and is read again later; another client is answered meanwhile', async () => {
    s = await startService('workflow', { byte_rate_limit: 20_000, max_payload: 10_000 })
    const victim = await TestClient.connect(s.url)
    const attacker = await TestClient.connect(s.url)
    // The bucket holds 30,000 bytes: three frames of 10,000 pass (and are answered), the fourth is refused unparsed.
    for (let i = 0; i < 4; i++) attacker.send(padded(10_000))
    const refused = await attacker.next((f) => f.type === 'error' && f.error_code === 'RATE_LIMIT_EXCEEDED')
    expect(refused.error_message).toMatch(/^Byte rate limit exceeded \(20000 bytes\/s\)\. Retry after \d+\.\d{3} seconds\.$/)
    expect(attacker.pending.filter((f) => f.error_code === 'INVALID_CHANNEL')).toHaveLength(3)
    await victim.alive()
    // The attacker's connection stays open and is served once its budget allows.
    await attacker.alive()
    expect(s.server.stats.rateLimited).toBe(1)
    await Promise.all([victim.close(), attacker.close()])
  })

  it('a frame that leaves the byte budget in debt stops the reading at once: the next frame waits in TCP and is then answered, not refused', async () => {
    // The bucket holds 150,000 bytes: a 200,000-byte frame passes when it is full and leaves 50,000 of debt (0.5 s).
    s = await startService('workflow', { byte_rate_limit: 100_000, max_payload: 200_000 })
    const attacker = await TestClient.connect(s.url)
    expect(await attacker.errorFor(padded(200_000))).toMatchObject({ correlation_id: 'big', error_code: 'INVALID_CHANNEL' })
    // Before, the socket stayed readable: the next frame was read, refused unparsed, and only then was reading stopped.
    await attacker.alive()
    expect(attacker.pending).toEqual([])
    expect(s.server.stats.rateLimited).toBe(0)
    await attacker.close()
  })

  it('a frame with more keys than max_frame_keys, or elements than max_frame_elements, is refused with DECODE_ERROR before parsing', async () => {
    s = await startService('workflow', { max_frame_keys: 100, max_frame_elements: 1000 })
    const c = await TestClient.connect(s.url)
    // type, event, correlation_id, data and d are keys too: 95 more make 100.
    expect(await c.errorFor(keyed(95))).toMatchObject({ error_code: 'INVALID_CHANNEL' })
    expect(await c.errorFor(keyed(96))).toMatchObject({ error_code: 'DECODE_ERROR', error_message: 'Frame has more than 100 object keys (max_frame_keys)' })
    expect(await c.errorFor(listed(1000))).toMatchObject({ error_code: 'INVALID_CHANNEL' })
    expect(await c.errorFor(listed(1001))).toMatchObject({ error_code: 'DECODE_ERROR', error_message: 'Frame has more than 1000 array elements (max_frame_elements)' })
    await c.alive()
    await c.close()
  })
})
