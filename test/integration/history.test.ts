import { afterEach, describe, expect, it } from 'vitest'
import { type SettingsInput, SettingsError } from '../../src/index.js'
import { type Frame, TestClient } from '../helpers/client.js'
import { type Started, startService } from '../helpers/server.js'

const HISTORY: SettingsInput = { allow_client_publish: true, history: [{ channel: 'workflow:*', size: 50, ttl: 300 }] }
const isStarted = (f: Frame) => f.type === 'event' && f.event === 'workflow.started'
const offsetOf = (f: Frame) => f.offset as number

describe('history and recovery (docs/protocol.md A.8)', () => {
  const clients: TestClient[] = []
  let s: Started | null = null
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()))
    await s?.server.close()
    s = null
  })

  const connect = async () => {
    const c = await TestClient.connect(s!.url)
    clients.push(c)
    return c
  }
  const publish = (n: number, channel = 'workflow:w1') => s!.server.publish(channel, 'workflow.started', { workflow_id: 'w1', n })
  const subscribe = (c: TestClient, channel: string, since?: unknown) => c.request('subscribe', since === undefined ? { channel } : { channel, since })
  /** The next `count` events of a client, in arrival order. */
  const events = async (c: TestClient, count: number) => {
    const out: Frame[] = []
    for (let i = 0; i < count; i++) out.push(await c.next(isStarted))
    return out
  }

  it('numbers history events and puts offset and epoch after the nine envelope keys', async () => {
    s = await startService('workflow', HISTORY)
    const c = await connect()
    const answer = await subscribe(c, 'workflow:w1')
    expect(answer.data).toMatchObject({ status: 'subscribed', channel: 'workflow:w1', recovered: false, offset: 0 })
    const epoch = answer.data!.epoch as string
    expect(epoch).toMatch(/^\S{1,64}$/)
    const results = [await publish(1), await publish(2)]
    expect(results.map((r) => r.pub.position)).toEqual([{ offset: 1, epoch }, { offset: 2, epoch }])
    const got = await events(c, 2)
    expect(got.map((f) => [f.offset, f.epoch, f.data!.n])).toEqual([[1, epoch, 1], [2, epoch, 2]])
    const raw = c.raw.find((r) => r.includes('"offset":2'))!
    expect(Object.keys(JSON.parse(raw))).toEqual(['id', 'correlation_id', 'type', 'event', 'data', 'timestamp', 'room', 'error_code', 'error_message', 'offset', 'epoch'])
    // A channel without history is unchanged: no position keys, no extra answer fields.
    expect((await subscribe(c, 'pool:p1')).data).toEqual({ status: 'subscribed', channel: 'pool:p1' })
    await s.server.publish('pool:p1', 'pool.status_changed', { pool_id: 'p1', status: 'busy' })
    const pool = await c.next((f) => f.event === 'pool.status_changed')
    expect('offset' in pool).toBe(false)
  })

  it('recovers with since: replays what was missed in order, then goes live, no duplicate', async () => {
    s = await startService('workflow', HISTORY)
    const first = await connect()
    const epoch = (await subscribe(first, 'workflow:w1')).data!.epoch as string
    for (let n = 1; n <= 3; n++) await publish(n)
    await events(first, 3)
    await first.close()
    for (let n = 4; n <= 7; n++) await publish(n)

    const back = await connect()
    const answer = await subscribe(back, 'workflow:w1', { offset: 3, epoch })
    expect(answer.data).toMatchObject({ status: 'subscribed', recovered: true, offset: 7, epoch })
    await publish(8)
    const got = await events(back, 5)
    expect(got.map(offsetOf)).toEqual([4, 5, 6, 7, 8])
    expect(got.map((f) => f.data!.n)).toEqual([4, 5, 6, 7, 8])
    // The answer came before the replay.
    expect(back.raw.findIndex((r) => r.includes('"recovered":true'))).toBeLessThan(back.raw.findIndex((r) => r.includes('"offset":4')))
    await back.alive()
    expect(back.pending.filter(isStarted)).toEqual([])
  })

  it('says recovered: false, replaying nothing, for another epoch, a gap older than the history, or a position ahead', async () => {
    s = await startService('workflow', { ...HISTORY, history: [{ channel: 'workflow:*', size: 3, ttl: 300 }] })
    const c = await connect()
    const epoch = (await subscribe(c, 'workflow:w1')).data!.epoch as string
    for (let n = 1; n <= 10; n++) await publish(n)
    await events(c, 10)
    const other = await connect()
    expect((await subscribe(other, 'workflow:w1', { offset: 5, epoch })).data).toMatchObject({ recovered: false, offset: 10, epoch })
    expect((await subscribe(other, 'workflow:w1', { offset: 9, epoch: 'not-the-epoch' })).data).toMatchObject({ recovered: false, offset: 10 })
    expect((await subscribe(other, 'workflow:w1', { offset: 11, epoch })).data).toMatchObject({ recovered: false })
    // The history holds the last 3 (8, 9, 10): from 7 on it recovers.
    expect((await subscribe(other, 'workflow:w1', { offset: 7, epoch })).data).toMatchObject({ recovered: true })
    expect((await events(other, 3)).map(offsetOf)).toEqual([8, 9, 10])
    await other.alive()
    expect(other.pending.filter(isStarted)).toEqual([])
  })

  it('answers a malformed since with INVALID_PARAMS naming the field, and since without history with recovered: false', async () => {
    s = await startService('workflow', HISTORY)
    const c = await connect()
    for (const [since, field] of [['x', 'since'], [{ epoch: 'e' }, 'since.offset'], [{ offset: -1, epoch: 'e' }, 'since.offset'], [{ offset: 1 }, 'since.epoch']] as const) {
      const err = await subscribe(c, 'workflow:w1', since)
      expect(err.error_code, JSON.stringify(since)).toBe('INVALID_PARAMS')
      expect(err.error_message).toContain(`'${field}'`)
    }
    expect(c.ws.readyState).toBe(c.ws.OPEN)
    expect((await subscribe(c, 'pool:p1', { offset: 3, epoch: 'e' })).data).toEqual({ status: 'subscribed', channel: 'pool:p1', recovered: false })
  })

  it('loses nothing and duplicates nothing while a publisher storm races the replays', async () => {
    s = await startService('workflow', { ...HISTORY, history: [{ channel: 'workflow:*', size: 5000, ttl: 300 }] })
    const c = await connect()
    const epoch = (await subscribe(c, 'workflow:w1')).data!.epoch as string
    for (let n = 1; n <= 50; n++) await publish(n)
    let storm = true
    let published = 50
    const publisher = (async () => {
      while (storm) {
        // Several publications per turn, so some land between a subscriber's read and its replay.
        await Promise.all([publish(++published), publish(++published), publish(++published)])
        await new Promise((r) => setImmediate(r))
      }
    })()
    const racers = await Promise.all(Array.from({ length: 8 }, () => connect()))
    const answers = await Promise.all(racers.map((r, i) => subscribe(r, 'workflow:w1', { offset: i * 5, epoch })))
    storm = false
    await publisher
    for (const a of answers) expect(a.data).toMatchObject({ recovered: true, epoch })
    for (const [i, r] of racers.entries()) {
      const got = await events(r, published - i * 5)
      const offsets = got.map(offsetOf)
      // Strictly consecutive from since + 1 to the last publication: no gap, no duplicate.
      expect(offsets[0]).toBe(i * 5 + 1)
      expect(offsets.every((o, k) => k === 0 || o === offsets[k - 1]! + 1)).toBe(true)
      expect(offsets.at(-1)).toBe(published)
    }
    await Promise.all(racers.map((r) => r.alive()))
    for (const r of racers) expect(r.pending.filter(isStarted)).toEqual([])
  })

  it('answers the position on every publish path: socket, POST /publish', async () => {
    s = await startService('workflow', HISTORY)
    const c = await connect()
    await subscribe(c, 'workflow:w1')
    const answer = await c.request('publish', { channel: 'workflow:w1', event: 'workflow.started', data: { workflow_id: 'w1' } })
    expect(answer.data).toMatchObject({ status: 'published', offset: 1 })
    const res = await fetch(`${s.http}/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'workflow:w1', event: 'workflow.started', data: { workflow_id: 'w1' } }),
    })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ delivered: 1, instances: 1, offset: 2, epoch: answer.data!.epoch })
  })

  it('drops publications ttl after the last one, but a client that missed nothing still recovers', async () => {
    s = await startService('workflow', { ...HISTORY, history: [{ channel: 'workflow:*', size: 50, ttl: 0.2 }] })
    const c = await connect()
    const epoch = (await subscribe(c, 'workflow:w1')).data!.epoch as string
    await publish(1)
    await publish(2)
    const probe = await connect()
    // Expiry runs on the store's clock: ask until the gap is reported (bounded), never sleep blindly.
    const deadline = Date.now() + 10_000
    let answer = await subscribe(probe, 'workflow:w1', { offset: 1, epoch })
    while (answer.data!.recovered === true && Date.now() < deadline) {
      await probe.next(isStarted)
      await new Promise((r) => setTimeout(r, 50))
      answer = await subscribe(probe, 'workflow:w1', { offset: 1, epoch })
    }
    expect(answer.data).toMatchObject({ recovered: false, offset: 2, epoch })
    expect((await subscribe(probe, 'workflow:w1', { offset: 2, epoch })).data).toMatchObject({ recovered: true, offset: 2, epoch })
  })

  it('refuses history settings that overlap, have size ≤ 0, or match none of the service channels', async () => {
    await expect(startService('workflow', { history: [{ channel: 'workflow:*' }, { channel: 'workflow:{id}' }] })).rejects.toThrow(/history\.1\.channel: workflow:\{id\} overlaps history\.0\.channel/)
    await expect(startService('workflow', { history: [{ channel: 'workflow:*', size: 0 }] })).rejects.toThrow(/history\.0\.size/)
    await expect(startService('workflow', { history: [{ channel: 'workflw:*' }] })).rejects.toThrow(SettingsError)
    await expect(startService('workflow', { history: [{ channel: 'workflw:*' }] })).rejects.toThrow(/history\.0\.channel: workflw:\* matches none/)
  })
})
