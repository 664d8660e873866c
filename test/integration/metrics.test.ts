import { register as globalRegistry } from 'prom-client'
import { afterEach, describe, expect, it } from 'vitest'
import { TestClient } from '../helpers/client.js'
import { MemoryBroker } from '../../src/index.js'
import { type BrokerState } from '../../src/broker/broker.js'
import { callOk, httpClient, type Observed, startObserved } from '../helpers/observed.js'
import { publishUntilSlowClose } from '../helpers/server.js'

/** A hand-written fake at the broker seam: the in-memory broker, reporting whatever state a test sets. */
class SwitchableBroker extends MemoryBroker {
  forced: BrokerState | null = null
  override get state(): BrokerState {
    return this.forced ?? super.state
  }
  override stats() {
    return { ...super.stats(), state: this.state }
  }
}

type Samples = Map<string, number>

/** Parses Prometheus text exposition into `name{label="v",…}` (labels sorted, service dropped) → value. */
function parseMetrics(text: string): Samples {
  const out: Samples = new Map()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null) throw new Error(`not a Prometheus sample line: ${line}`)
    const labels = [...(m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)]
      .filter((l) => l[1] !== 'service')
      .map((l) => `${l[1]}="${l[2]}"`)
      .sort()
    out.set(labels.length > 0 ? `${m[1]}{${labels.join(',')}}` : m[1]!, Number(m[3]))
  }
  return out
}

async function scrape(s: Observed): Promise<{ samples: Samples; text: string; contentType: string | null }> {
  const res = await fetch(`${s.http}/metrics`)
  expect(res.status).toBe(200)
  const text = await res.text()
  return { samples: parseMetrics(text), text, contentType: res.headers.get('content-type') }
}

const publish = (s: Observed, channel: string, data: Record<string, unknown>) =>
  fetch(`${s.http}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channel, event: 'workflow.started', data }) })

describe('GET /metrics', () => {
  let s: Observed | undefined
  let other: Observed | undefined
  afterEach(async () => {
    await Promise.all([s?.server.close(), other?.server.close()])
    s = other = undefined
  })

  it('serves Prometheus text whose counters move with traffic', async () => {
    s = await startObserved('workflow', { message_rate_limit: 2, max_buffered_bytes: 2000 })
    const before = await scrape(s)
    expect(before.contentType).toMatch(/^text\/plain; version=0\.0\.4/)
    expect(before.text).toContain('service="workflow"')
    expect(before.samples.get('roomcast_connections')).toBe(0)
    expect(before.samples.get('roomcast_bridge_state{state="standalone"}')).toBe(1)
    expect(before.samples.get('roomcast_bridge_state{state="connected"}')).toBe(0)

    const clients = await Promise.all([1, 2, 3].map(() => TestClient.connect(s!.url)))
    for (const c of clients) await c.subscribe('workflow:w1')
    for (let i = 0; i < 4; i++) expect((await publish(s, 'workflow:w1', { workflow_id: `w${i}` })).status).toBe(200)
    for (const c of clients) for (let i = 0; i < 4; i++) await c.next((f) => f.type === 'event')

    // One undecodable frame, then a burst of pings: the bucket (2/s, burst 3) drops some of them.
    const [a] = clients
    a!.send('{not json')
    expect((await a!.next((f) => f.type === 'error')).error_code).toBe('DECODE_ERROR')
    for (let i = 0; i < 5; i++) a!.send({ type: 'ping' })
    const answers = await Promise.all([0, 1, 2, 3, 4].map(() => a!.next((f) => f.type === 'pong' || f.type === 'error')))
    const limited = answers.filter((f) => f.error_code === 'RATE_LIMIT_EXCEEDED').length
    expect(limited).toBeGreaterThan(0)

    const m = (await scrape(s)).samples
    expect(m.get('roomcast_connections')).toBe(3)
    expect(m.get('roomcast_connections_total')).toBe(3)
    expect(m.get('roomcast_rooms')).toBe(1)
    expect(m.get('roomcast_messages_in_total{type="subscribe"}')).toBe(3)
    expect(m.get('roomcast_messages_in_total{type="invalid"}')).toBe(1)
    expect(m.get('roomcast_messages_in_total{type="ping"}')).toBe(5 - limited)
    expect(m.get('roomcast_messages_in_total{type="rate_limited"}')).toBe(limited)
    expect(m.get('roomcast_messages_out_total{type="event"}')).toBe(12)
    expect(m.get('roomcast_messages_out_total{type="welcome"}')).toBe(3)
    expect(m.get('roomcast_messages_out_total{type="pong"}')).toBe(5 - limited)
    expect(m.get('roomcast_broadcasts_total')).toBe(4)
    expect(m.get('roomcast_deliveries_total')).toBe(12)
    expect(m.get('roomcast_broadcast_fanout_count')).toBe(4)
    expect(m.get('roomcast_broadcast_fanout_sum')).toBe(12)
    expect(m.get('roomcast_broadcast_fanout_bucket{le="2"}')).toBe(0)
    expect(m.get('roomcast_broadcast_fanout_bucket{le="5"}')).toBe(4)
    expect(m.get('roomcast_broadcast_duration_seconds_count')).toBe(4)
    expect(m.get('roomcast_broadcast_duration_seconds_sum')).toBeGreaterThan(0)
    expect(m.get('roomcast_errors_total{code="DECODE_ERROR"}')).toBe(1)
    expect(m.get('roomcast_errors_total{code="RATE_LIMIT_EXCEEDED"}')).toBe(limited)
    expect(m.get('roomcast_rate_limited_total')).toBe(limited)
    expect(m.get('roomcast_bridge_published_total')).toBe(4)
    expect(m.get('roomcast_slow_consumer_closes_total')).toBe(0)

    // A subscriber that stops reading is closed as a slow consumer once its backlog outgrows the limit.
    const slow = await TestClient.connect(s.url)
    await slow.subscribe('workflow:big')
    slow.ws.pause()
    const gone = new Promise<void>((resolve) => s!.server.onDisconnect(() => resolve()))
    const big = await publishUntilSlowClose(s.server, 'workflow:big', 32 * 1024, () => new Promise<void>((resolve) => setImmediate(resolve)))
    slow.ws.resume()
    expect((await slow.closed).code).toBe(1006)
    await gone
    const after = (await scrape(s)).samples
    expect(after.get('roomcast_slow_consumer_closes_total')).toBe(1)
    expect(after.get('roomcast_connections')).toBe(3)
    expect(after.get('roomcast_connections_total')).toBe(4)
    expect(after.get('roomcast_broadcast_fanout_count')).toBe(4 + big)
    expect(after.get('roomcast_deliveries_total')).toBeGreaterThan(12)
    await Promise.all(clients.map((c) => c.close()))
  })

  it('reports the broker state the broker reports, at scrape time and in websocket_health_check', async () => {
    const broker = new SwitchableBroker()
    s = await startObserved('workflow', {}, { broker })
    expect((await scrape(s)).samples.get('roomcast_bridge_state{state="standalone"}')).toBe(1)
    broker.forced = 'degraded'
    const m = (await scrape(s)).samples
    expect(m.get('roomcast_bridge_state{state="degraded"}')).toBe(1)
    expect(m.get('roomcast_bridge_state{state="standalone"}')).toBe(0)
    const client = await httpClient(s.mcpUrl)
    expect(await callOk(client, 'websocket_health_check')).toMatchObject({ status: 'healthy', bridge: { state: 'degraded' } })
    await client.close()
  })

  it('keeps one registry per server: two services in one process, nothing in the global registry', async () => {
    s = await startObserved('workflow')
    other = await startObserved('tests')
    const c = await TestClient.connect(s.url)
    const [w, t] = await Promise.all([scrape(s), scrape(other)])
    expect(w.samples.get('roomcast_connections')).toBe(1)
    expect(t.samples.get('roomcast_connections')).toBe(0)
    expect(t.text).toContain('service="tests"')
    expect(t.text).not.toContain('service="workflow"')
    expect(globalRegistry.getMetricsAsArray()).toEqual([])
    await c.close()
  })
})
