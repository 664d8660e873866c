import { once } from 'node:events'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { newEpoch } from '../../src/broker/memory-history.js'
import { decideRecovery, type HistoryOptions } from '../../src/broker/position.js'
import { appendAndPublish, readStream } from '../../src/broker/redis-history.js'
import { redisNames } from '../../src/broker/redis-channels.js'
import { openRedis } from '../../src/broker/redis-connection.js'
import type { Publication } from '../../src/protocol/messages.js'
import { TestRedis } from '../helpers/redis.js'

const names = redisNames('test:', 'workflow')
const opts: HistoryOptions = { size: 3, ttlMs: 60_000, metaTtlMs: 120_000 }

function pub(n: number, channel = 'workflow:w1'): Publication {
  return { id: `e${n}`, channel, event: 'workflow.started', data: { workflow_id: 'w1', n }, timestamp: '2026-01-01T00:00:00.000Z' }
}

/** Polls `check` (a Redis query) until it holds; for expiries, which Redis does on its own clock. */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('redis history scripts', () => {
  let server: TestRedis
  let redis: Redis
  let sub: Redis

  beforeAll(async () => {
    server = await TestRedis.start()
    redis = openRedis(server.url, 'history-test')
    sub = openRedis(server.url, 'history-test-sub')
    await Promise.all([redis.connect(), sub.connect()])
  })
  afterAll(async () => {
    redis.disconnect()
    sub.disconnect()
    await server.kill()
  })

  const append = (n: number, channel = 'workflow:w1', o = opts) =>
    appendAndPublish(redis, names.streamKeys(channel), pub(n, channel), o, names.room(channel), '{"head":true', newEpoch())
  const read = (after: number | null, channel = 'workflow:w1', o = opts) => readStream(redis, names.streamKeys(channel), after, o, newEpoch())

  it('numbers, stores and publishes in one step; the message carries the position', async () => {
    await sub.subscribe(names.room('workflow:p'))
    const got: string[] = []
    sub.on('message', (_c: string, m: string) => got.push(m))
    const results = [await append(1, 'workflow:p'), await append(2, 'workflow:p')]
    expect(results.map((r) => r.position.offset)).toEqual([1, 2])
    expect(results[1]!.position.epoch).toBe(results[0]!.position.epoch)
    expect(results.map((r) => r.receivers)).toEqual([1, 1])
    await until(async () => got.length === 2, 'two messages')
    expect(JSON.parse(got[1]!)).toEqual({ head: true, offset: 2, epoch: results[0]!.position.epoch })
    const page = await read(0, 'workflow:p')
    expect(page.top).toEqual(results[1]!.position)
    expect(page.publications.map((p) => [p.id, p.position.offset, p.data.n])).toEqual([['e1', 1, 1], ['e2', 2, 2]])
  })

  it('keeps the newest size publications and reads after an offset', async () => {
    for (let n = 1; n <= 10; n++) await append(n, 'workflow:size')
    expect((await read(0, 'workflow:size')).publications.map((p) => p.position.offset)).toEqual([8, 9, 10])
    expect((await read(8, 'workflow:size')).publications.map((p) => p.id)).toEqual(['e9', 'e10'])
    expect(await redis.xlen(names.streamKeys('workflow:size').stream)).toBe(3)
  })

  it('creates the stream on a read, so the position told is the one the next publish continues', async () => {
    const told = (await read(null, 'workflow:new')).top
    expect(told.offset).toBe(0)
    expect((await append(1, 'workflow:new')).position).toEqual({ offset: 1, epoch: told.epoch })
    expect(decideRecovery(told, await read(0, 'workflow:new'))).toMatchObject({ recovered: true })
  })

  it('changes the epoch after FLUSHALL: the old position does not recover', async () => {
    await append(1, 'workflow:f')
    const before = (await append(2, 'workflow:f')).position
    await redis.flushall()
    const after = await read(1, 'workflow:f')
    expect(after.top.offset).toBe(0)
    expect(after.top.epoch).not.toBe(before.epoch)
    expect(decideRecovery({ offset: 1, epoch: before.epoch }, after).recovered).toBe(false)
    expect((await append(3, 'workflow:f')).position).toEqual({ offset: 1, epoch: after.top.epoch })
  })

  it('drops publications ttl after the last one but keeps the epoch; a lost meta means a new epoch', async () => {
    const short = { size: 10, ttlMs: 150, metaTtlMs: 60_000 }
    const first = (await append(1, 'workflow:t', short)).position
    await append(2, 'workflow:t', short)
    await until(async () => (await redis.exists(names.streamKeys('workflow:t').stream)) === 0, 'the stream to expire')
    const page = await read(0, 'workflow:t', short)
    expect(page.top).toEqual({ offset: 2, epoch: first.epoch })
    expect(decideRecovery({ offset: 1, epoch: first.epoch }, page).recovered).toBe(false)
    expect(decideRecovery({ offset: 2, epoch: first.epoch }, page).recovered).toBe(true)

    const tiny = { size: 10, ttlMs: 150, metaTtlMs: 200 }
    await append(3, 'workflow:t', tiny)
    await until(async () => (await redis.exists(names.streamKeys('workflow:t').meta)) === 0, 'the meta to expire')
    expect((await append(4, 'workflow:t', tiny)).position.epoch).not.toBe(first.epoch)
  })

  it('a stream left without its meta is discarded, not continued under a new epoch', async () => {
    for (let n = 1; n <= 3; n++) await append(n, 'workflow:orphan')
    await redis.del(names.streamKeys('workflow:orphan').meta)
    const next = await append(4, 'workflow:orphan')
    expect(next.position.offset).toBe(1)
    expect((await read(0, 'workflow:orphan')).publications.map((p) => p.id)).toEqual(['e4'])
  })

  it('counts and skips an unreadable entry, which breaks recovery across it', async () => {
    const a = (await append(1, 'workflow:bad')).position
    const keys = names.streamKeys('workflow:bad')
    await redis.hincrby(keys.meta, 's', 1)
    await redis.xadd(keys.stream, '2-0', 'd', 'not json')
    await append(3, 'workflow:bad')
    const bad: string[] = []
    const page = await readStream(redis, keys, 0, opts, newEpoch(), (raw) => bad.push(raw))
    expect(bad).toEqual(['not json'])
    expect(page.publications.map((p) => p.position.offset)).toEqual([1, 3])
    expect(decideRecovery({ offset: 0, epoch: a.epoch }, page).recovered).toBe(false)
    expect(decideRecovery({ offset: 2, epoch: a.epoch }, page).recovered).toBe(true)
  })

  it('changes the epoch after Redis restarts, and refuses at once while it is down', async () => {
    const before = (await append(1, 'workflow:r')).position
    const closed = once(redis, 'close')
    await server.kill()
    await closed
    await expect(append(2, 'workflow:r')).rejects.toThrow()
    await server.restart()
    await until(async () => redis.status === 'ready', 'the reconnect')
    const after = await read(0, 'workflow:r')
    expect(after.top.epoch).not.toBe(before.epoch)
    expect(decideRecovery(before, after).recovered).toBe(false)
  })
})
