#!/usr/bin/env node
/* global fetch, performance */
// A reconnect storm of N clients built on roomcast/client against one service: the service is
// stopped (SIGTERM: clients get 1001) and started again on the same port; every client must come
// back (open + re-subscribed) on its own backoff. Prints how long each took after the restart, as
// a histogram, and whether the server held (all back, nothing refused).
//   npm run build && node bench/client-storm.mjs [--clients 5000] [--channels 100]
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import WebSocket from 'ws'
import { RoomcastClient } from '../dist/src/client/index.js'

const { values } = parseArgs({ options: { clients: { type: 'string', default: '5000' }, channels: { type: 'string', default: '100' } } })
const N = Number(values.clients)
const CHANNELS = Number(values.channels)
const ROOT = new URL('..', import.meta.url).pathname

async function freePort() {
  const srv = createServer().listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const { port } = srv.address()
  srv.close()
  return port
}

const dir = mkdtempSync(join(tmpdir(), 'roomcast-storm-'))
const settings = join(dir, 'workflow.yaml')
writeFileSync(settings, `max_connections: ${N + 100}\nmax_connections_per_ip: ${N + 100}\nlog_level: warn\nmcp:\n  enabled: false\ndrain_timeout: 10\n`)
const port = await freePort()

async function startServer() {
  const proc = spawn(process.execPath, [join(ROOT, 'bin/roomcast.js'), 'serve', 'workflow', '--port', String(port), '--settings', settings], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, LOG_FORMAT: 'json', ROOMCAST_WORKFLOW_PORT: '' },
  })
  // Ready once /health answers.
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`)
      if (res.ok) return proc
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 20))
  }
}

let server = await startServer()
const clients = []
const openedAt = new Array(N).fill(0)
let errors = 0
const t0 = performance.now()
for (let i = 0; i < N; i++) {
  const c = new RoomcastClient({ url: `ws://127.0.0.1:${port}/ws`, dialect: 'envelope', socket: (url) => new WebSocket(url), requestTimeout: 60_000 })
  c.onSubscribed((s) => {
    if (s.resubscribe) openedAt[i] = performance.now()
  })
  c.onError(() => errors++)
  clients.push(c)
}
await Promise.all(clients.map((c, i) => c.connect().then(() => c.subscribe(`workflow:s${i % CHANNELS}`))))
console.log(`${N} clients connected and subscribed in ${Math.round(performance.now() - t0)} ms`)

const stopped = performance.now()
server.kill('SIGTERM')
await once(server, 'exit')
const down = performance.now()
server = await startServer()
const up = performance.now()
console.log(`server stopped (drain ${Math.round(down - stopped)} ms), back up ${Math.round(up - down)} ms later`)

const deadline = up + 120_000
while (openedAt.some((t) => t === 0) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50))
const back = openedAt.filter((t) => t > 0).map((t) => t - up)
back.sort((a, b) => a - b)
const buckets = [250, 500, 1000, 2000, 4000, 8000, 16000, Infinity]
let prev = 0
console.log(`\nre-subscribed after the restart: ${back.length} of ${N} (errors reported to clients: ${errors})`)
console.log('| after restart | clients |\n| --- | --- |')
for (const b of buckets) {
  const n = back.filter((t) => t >= prev && t < b).length
  console.log(`| ${prev}–${b === Infinity ? '∞' : b} ms | ${n} |`)
  prev = b
}
const pct = (p) => Math.round(back[Math.min(back.length - 1, Math.floor(p * back.length))] ?? NaN)
console.log(`\np50 ${pct(0.5)} ms, p90 ${pct(0.9)} ms, p99 ${pct(0.99)} ms, last ${Math.round(back.at(-1) ?? NaN)} ms`)
const health = await (await fetch(`http://127.0.0.1:${port}/health`)).json()
console.log(`server after the storm: ${health.status}, ${health.connectedClients} clients`)
for (const c of clients) c.close()
server.kill('SIGTERM')
await once(server, 'exit')
process.exit(back.length === N ? 0 : 1)
