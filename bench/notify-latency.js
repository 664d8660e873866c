#!/usr/bin/env node
// Outbox → subscriber latency of the context service's PostgreSQL source: a producer runs
// `SELECT roomcast_emit(...)` (docs/postgres.md: a row in the outbox, its id notified) at a fixed
// rate, subscribers of the channel time each event from the moment the producer sent it. Needs a built dist/ (npm run build) and PostgreSQL (default
// postgres://postgres@127.0.0.1:5432/postgres, or PG_ADMIN_URL); it creates and drops its own database.
//
//   node bench/notify-latency.js [--rate 1000] [--seconds 10] [--warmup 2] [--subscribers 10]
/* global fetch -- Node 20 has it */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import pg from 'pg'
import WebSocket from 'ws'
import { ROOT } from './lib/servers.js'

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    subscribers: { type: 'string', default: '10' },
  },
})
const RATE = Number(values.rate)
const SECONDS = Number(values.seconds)
const WARMUP = Number(values.warmup)
const SUBS = Number(values.subscribers)
const ADMIN = process.env.PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const now = () => performance.timeOrigin + performance.now()

async function admin(sql) {
  const c = new pg.Client({ connectionString: ADMIN })
  await c.connect()
  try {
    await c.query(sql)
  } finally {
    await c.end()
  }
}

function startService(dbUrl) {
  const dir = mkdtempSync(join(tmpdir(), 'roomcast-notify-bench-'))
  writeFileSync(join(dir, 'context.yaml'), 'port: 0\nmcp:\n  enabled: false\nmax_buffered_bytes: 16777216\n')
  const proc = spawn(process.execPath, [join(ROOT, 'bin/roomcast.js'), 'serve', 'context'], {
    cwd: ROOT,
    env: { ...process.env, ROOMCAST_SETTINGS_DIR: dir, DATABASE_URL: dbUrl, LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return new Promise((resolve, reject) => {
    let out = ''
    proc.stdout.on('data', (chunk) => {
      out += chunk
      const m = out.match(/"port":(\d+)[^\n]*"msg":"listening"/)
      if (m) resolve({ proc, port: Number(m[1]) })
    })
    proc.once('exit', (code) => reject(new Error(`roomcast exited (${code}) before listening:\n${out}`)))
  })
}

async function waitListening(port) {
  for (let i = 0; i < 200; i++) {
    const h = await (await fetch(`http://127.0.0.1:${port}/health`)).json()
    if (h.postgres?.state === 'listening') return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error('the PostgreSQL source never reached state listening')
}

async function subscriber(port, latencies) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`)
  await once(ws, 'open')
  ws.send(JSON.stringify({ type: 'unsubscribe', channel: 'global', id: 'u' }))
  ws.send(JSON.stringify({ type: 'subscribe', channel: 'topics/bench', id: 's' }))
  await new Promise((resolve) => ws.on('message', (raw) => JSON.parse(raw).id === 's' && resolve()))
  ws.on('message', (raw) => {
    const f = JSON.parse(raw)
    if (f.type === 'ping') ws.send('{"type":"pong"}')
    if (f.event === 'system.info' && f.data.measure) latencies.push(now() - f.data.sent)
  })
  return ws
}

/** Sends `rate` notifications per second for `seconds`, in 10 ms ticks; returns how many were sent. */
async function produce(client, rate, seconds, measure) {
  const start = now()
  let sent = 0
  while (now() - start < seconds * 1000) {
    const due = Math.floor(((now() - start) / 1000) * rate)
    const batch = []
    for (; sent < due; sent++) {
      batch.push(JSON.stringify({ message: 'bench', sent: now(), seq: sent, measure }))
    }
    // One statement per tick: the tick's notifications leave at its commit, as a trigger's would.
    if (batch.length > 0) await client.query("SELECT roomcast_emit('topics/bench', 'system.info', d::jsonb) FROM unnest($1::text[]) AS d", [batch])
    await new Promise((r) => setTimeout(r, 10))
  }
  return { sent, seconds: (now() - start) / 1000 }
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]

const db = `roomcast_bench_${randomBytes(5).toString('hex')}`
await admin(`CREATE DATABASE ${db}`)
const dbUrl = Object.assign(new URL(ADMIN), { pathname: `/${db}` }).href
let service
const sockets = []
const producer = new pg.Client({ connectionString: dbUrl })
try {
  // The outbox, roomcast_emit and the tasks trigger, exactly as docs/postgres.md ships them.
  const doc = readFileSync(join(ROOT, 'docs/postgres.md'), 'utf8')
  await producer.connect()
  await producer.query([...doc.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]).join('\n'))
  service = await startService(dbUrl)
  await waitListening(service.port)
  const latencies = []
  for (let i = 0; i < SUBS; i++) sockets.push(await subscriber(service.port, latencies))
  await produce(producer, RATE, WARMUP, false)
  const run = await produce(producer, RATE, SECONDS, true)
  const expected = run.sent * SUBS
  const deadline = now() + 10_000
  while (latencies.length < expected && now() < deadline) await new Promise((r) => setTimeout(r, 50))
  const sorted = [...latencies].sort((a, b) => a - b)
  const ms = (x) => (x === undefined ? '–' : x.toFixed(2))
  const result = {
    offered_per_s: RATE,
    achieved_per_s: Math.round(run.sent / run.seconds),
    subscribers: SUBS,
    notifications: run.sent,
    deliveries: `${latencies.length}/${expected}`,
    p50_ms: ms(pct(sorted, 50)),
    p90_ms: ms(pct(sorted, 90)),
    p99_ms: ms(pct(sorted, 99)),
    max_ms: ms(sorted.at(-1)),
  }
  console.log(JSON.stringify(result))
} finally {
  for (const ws of sockets) ws.terminate()
  await producer.end().catch(() => {})
  service?.proc.kill('SIGTERM')
  if (service) await once(service.proc, 'exit')
  await admin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`)
}
