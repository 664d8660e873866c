import { describe, expect, it } from 'vitest'
import type { PatternsServer } from '../../services/patterns/index.js'
import { PatternsProjection } from '../../services/patterns/projection.js'
import type { EventCase } from '../helpers/events.js'
import { envelopeServiceSuite } from '../helpers/service-suite.js'

const CASES: EventCase[] = [
  { event: 'pattern.detected', channel: 'patterns:latency', data: { category: 'latency', pattern: 'p99 spike at :00', confidence: 0.9 } },
  { event: 'anomaly.detected', channel: 'anomalies', data: { anomaly: { metric: 'cpu', value: 99 } } },
  { event: 'insight.generated', channel: 'insights', data: { insight: 'deploys on Fridays fail more' } },
  { event: 'aggregation.completed', channel: 'metrics', data: { window: '1h', count: 120 } },
]

describe('patterns service', () => {
  const t = envelopeServiceSuite<PatternsServer>('patterns', {
    welcome: 'Connected to Akosha pattern detection',
    cases: CASES,
    invalid: [
      { channel: 'patterns:latency', event: 'pattern.detected', data: { category: 'latency' }, names: /'pattern'/ },
      { channel: 'anomalies', event: 'anomaly.detected', data: { metric: 'cpu' }, names: /'anomaly'/ },
    ],
  })

  it('answers get_patterns per category, newest first, and not_found for an unseen category', async () => {
    t.server.broadcast.patternDetected({ category: 'latency', pattern: 'a' })
    await t.client.request('publish', { channel: 'patterns:latency', event: 'pattern.detected', data: { category: 'latency', pattern: 'b' } })
    t.server.broadcast.patternDetected({ category: 'errors', pattern: 'c' })
    const res = await t.client.request('get_patterns', { category: 'latency' })
    expect(res.data).toMatchObject({ category: 'latency', count: 2, total: 2 })
    expect((res.data?.patterns as { pattern: string }[]).map((p) => p.pattern)).toEqual(['b', 'a'])
    expect((await t.client.request('get_patterns', { category: 'cpu' })).data).toEqual({ category: 'cpu', status: 'not_found', patterns: [], count: 0, total: 0 })
    const err = await t.client.request('get_patterns', {})
    expect(err.error_code).toBe('INVALID_PARAMS')
    expect(err.error_message).toMatch(/'category'/)
  })

  it('answers get_anomalies from the anomalies seen', async () => {
    expect((await t.client.request('get_anomalies')).data).toEqual({ anomalies: [], count: 0, total: 0 })
    t.server.broadcast.anomalyDetected({ anomaly: 'disk full' })
    t.server.broadcast.anomalyDetected({ anomaly: 'queue stuck' })
    const res = await t.client.request('get_anomalies')
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
