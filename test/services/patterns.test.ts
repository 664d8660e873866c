import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { PatternsServer } from '../../services/patterns/index.js'
import { PatternsProjection } from '../../services/patterns/projection.js'
import { TestClient } from '../helpers/client.js'
import { broadcastEach, type EventCase, expectEveryEventCovered, publishEach, publishError } from '../helpers/events.js'
import { startService, type Started } from '../helpers/server.js'

const CASES: EventCase[] = [
  { event: 'pattern.detected', channel: 'patterns:latency', data: { category: 'latency', pattern: 'p99 spike at :00', confidence: 0.9 } },
  { event: 'anomaly.detected', channel: 'anomalies', data: { anomaly: { metric: 'cpu', value: 99 } } },
  { event: 'insight.generated', channel: 'insights', data: { insight: 'deploys on Fridays fail more' } },
  { event: 'aggregation.completed', channel: 'metrics', data: { window: '1h', count: 120 } },
]

describe('patterns service', () => {
  let s: Started<PatternsServer>
  let c: TestClient
  beforeEach(async () => {
    s = await startService<PatternsServer>('patterns', { allow_client_publish: true })
    c = await TestClient.connect(s.url)
  })
  afterEach(async () => {
    await c.close()
    await s.server.close()
  })

  it('welcomes with the Akosha text', async () => {
    const raw = new TestClient(s.url)
    expect((await raw.next()).data).toMatchObject({ server: 'patterns', message: 'Connected to Akosha pattern detection' })
    await raw.close()
  })

  it('delivers every declared event published over the socket on its channel', async () => {
    expectEveryEventCovered(s.server, CASES)
    await publishEach(c, CASES)
  })

  it('routes every event of the typed broadcaster to its default channel', async () => {
    await broadcastEach(s.server, c, CASES)
  })

  it('rejects an invalid payload with INVALID_EVENT naming the field', async () => {
    const err = await publishError(c, 'patterns:latency', 'pattern.detected', { category: 'latency' })
    expect(err.code).toBe('INVALID_EVENT')
    expect(err.message).toMatch(/'pattern'/)
    expect((await publishError(c, 'anomalies', 'anomaly.detected', { metric: 'cpu' })).message).toMatch(/'anomaly'/)
  })

  it('answers get_patterns per category, newest first, and not_found for an unseen category', async () => {
    s.server.broadcast.patternDetected({ category: 'latency', pattern: 'a' })
    await c.request('publish', { channel: 'patterns:latency', event: 'pattern.detected', data: { category: 'latency', pattern: 'b' } })
    s.server.broadcast.patternDetected({ category: 'errors', pattern: 'c' })
    const res = await c.request('get_patterns', { category: 'latency' })
    expect(res.data).toMatchObject({ category: 'latency', count: 2, total: 2 })
    expect((res.data?.patterns as { pattern: string }[]).map((p) => p.pattern)).toEqual(['b', 'a'])
    expect((await c.request('get_patterns', { category: 'cpu' })).data).toEqual({ category: 'cpu', status: 'not_found', patterns: [], count: 0, total: 0 })
    const err = await c.request('get_patterns', {})
    expect(err.error_code).toBe('INVALID_PARAMS')
    expect(err.error_message).toMatch(/'category'/)
  })

  it('answers get_anomalies from the anomalies seen', async () => {
    expect((await c.request('get_anomalies')).data).toEqual({ anomalies: [], count: 0, total: 0 })
    s.server.broadcast.anomalyDetected({ anomaly: 'disk full' })
    s.server.broadcast.anomalyDetected({ anomaly: 'queue stuck' })
    const res = await c.request('get_anomalies')
    expect(res.data).toMatchObject({ count: 2, total: 2 })
    expect((res.data?.anomalies as { anomaly: string }[]).map((a) => a.anomaly)).toEqual(['queue stuck', 'disk full'])
  })
})

describe('patterns projection caps', () => {
  it('keeps the newest patterns per category, the newest anomalies and the latest categories', () => {
    const p = new PatternsProjection({ categories: 2, perCategory: 3, recent: 2 })
    const pub = (event: string, data: Record<string, unknown>, n: number) =>
      p.apply({ id: `e${n}`, channel: 'x', event, data, timestamp: new Date(n).toISOString() })
    for (let i = 0; i < 5; i++) pub('pattern.detected', { category: 'a', pattern: i }, i)
    for (let i = 0; i < 5; i++) pub('anomaly.detected', { anomaly: i }, i)
    pub('pattern.detected', { category: 'b', pattern: 'b' }, 10)
    pub('pattern.detected', { category: 'c', pattern: 'c' }, 11)
    expect(p.categories.size).toBe(2)
    expect(p.patterns('a').status).toBe('not_found')
    expect(p.patterns('c')).toMatchObject({ count: 1 })
    expect(p.recentAnomalies()).toMatchObject({ count: 2, total: 5, anomalies: [{ anomaly: 4 }, { anomaly: 3 }] })
    p.apply({ id: 'z', channel: 'x', event: 'pattern.detected', data: { category: 'b', pattern: 1 }, timestamp: '' })
    p.apply({ id: 'y', channel: 'x', event: 'pattern.detected', data: { category: 'b', pattern: 2 }, timestamp: '' })
    p.apply({ id: 'w', channel: 'x', event: 'pattern.detected', data: { category: 'b', pattern: 3 }, timestamp: '' })
    expect(p.patterns('b')).toMatchObject({ count: 3, total: 4, patterns: [{ pattern: 3 }, { pattern: 2 }, { pattern: 1 }] })
  })
})
