/* global performance, fetch */
// Measures what the MCP tools and /metrics cost: `npm run build && node bench/observability.mjs`.
// 1. websocket_health_check over streamable HTTP (one connected SDK client), 300 calls.
// 2. GET /metrics with 50 clients connected after traffic, 300 scrapes.
// 3. Cost of the metrics observer per broadcast to 50 subscribers: A/B batches with the observer
//    detached and attached, alternating, plus the observer call alone.
import { pino } from 'pino'
import WebSocket from 'ws'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpPlugin, MetricsPlugin, parseSettings } from '../dist/src/index.js'
import { SERVICES } from '../dist/services/index.js'

const SUBSCRIBERS = 50
const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]
const ms = (x) => `${x.toFixed(2)} ms`
const tick = () => new Promise((r) => setImmediate(r))

const settings = parseSettings({ port: 0, log_level: 'silent', max_buffered_bytes: 64 * 1024 * 1024 })
const server = SERVICES.workflow.create(settings, { logger: pino({ level: 'silent' }) })
const metrics = new MetricsPlugin()
const mcp = new McpPlugin()
server.use(metrics).use(mcp)
const { port } = await server.listen()

const sockets = []
for (let i = 0; i < SUBSCRIBERS; i++) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`)
  await new Promise((resolve) => ws.once('message', resolve))
  ws.send(JSON.stringify({ type: 'request', event: 'subscribe', data: { channel: 'workflow:bench' } }))
  await new Promise((resolve) => ws.once('message', resolve))
  sockets.push(ws)
}

// 1. health check over MCP
const client = new Client({ name: 'bench', version: '0' })
await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${mcp.port}/mcp`)))
for (let i = 0; i < 30; i++) await client.callTool({ name: 'websocket_health_check', arguments: {} })
const health = []
for (let i = 0; i < 300; i++) {
  const t = performance.now()
  await client.callTool({ name: 'websocket_health_check', arguments: {} })
  health.push(performance.now() - t)
}
console.log(`websocket_health_check over HTTP, 300 calls: median ${ms(quantile(health, 0.5))}, p99 ${ms(quantile(health, 0.99))}`)
await client.close()

// 3. observer cost per broadcast (before the scrape so traffic is on the counters)
const data = { workflow_id: 'bench', total_stages: 3 }
const ROUNDS = 40
const BATCH = 200
const perMode = { off: [], on: [] }
for (let r = 0; r < ROUNDS * 2; r++) {
  const mode = r % 2 === 0 ? 'off' : 'on'
  server.broadcastObserver = mode === 'on' ? metrics : null
  const t = performance.now()
  for (let i = 0; i < BATCH; i++) server.publish('workflow:bench', 'workflow.started', data)
  perMode[mode].push(((performance.now() - t) * 1000) / BATCH)
  await tick()
  while (sockets.some((s) => s.bufferedAmount > 0) || server.connectionCount < SUBSCRIBERS) await tick()
  await new Promise((r) => setTimeout(r, 5))
}
server.broadcastObserver = metrics
// Medians of per-batch means: a batch that a busy neighbour on the host slowed down does not count.
const off = quantile(perMode.off.slice(4), 0.5)
const on = quantile(perMode.on.slice(4), 0.5)
console.log(`publish to ${SUBSCRIBERS} subscribers, median of ${ROUNDS - 4} batches of ${BATCH} each way: ${off.toFixed(1)} µs without observer, ${on.toFixed(1)} µs with, difference ${(on - off).toFixed(1)} µs`)
const N = 1_000_000
let t = performance.now()
for (let i = 0; i < N; i++) {
  const started = performance.now()
  metrics.onBroadcast('workflow:bench', SUBSCRIBERS, (performance.now() - started) / 1000)
}
console.log(`observer call alone (2x performance.now + 2 histogram observes): ${(((performance.now() - t) * 1e6) / N).toFixed(0)} ns per broadcast`)

// 2. /metrics scrape
const url = `http://127.0.0.1:${port}/metrics`
for (let i = 0; i < 30; i++) await (await fetch(url)).text()
const scrape = []
let bytes = 0
for (let i = 0; i < 300; i++) {
  t = performance.now()
  bytes = (await (await fetch(url)).text()).length
  scrape.push(performance.now() - t)
}
console.log(`GET /metrics (${bytes} bytes), 300 scrapes: median ${ms(quantile(scrape, 0.5))}, p99 ${ms(quantile(scrape, 0.99))}`)

for (const ws of sockets) ws.terminate()
await server.close()
