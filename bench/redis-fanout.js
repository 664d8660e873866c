#!/usr/bin/env node
// Fan-out through two roomcast instances over Redis against one instance, side by side in one
// run: `node bench/redis-fanout.js [--subs 1000] [--messages 400] [--window 8] [--repeat 3]`.
// One publisher on the first instance; subscribers split evenly across the instances. A run
// is timed from the first publish to the last delivery at every subscriber. Needs `npm run build`
// and redis-server on PATH.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import WebSocket from 'ws'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const { values } = parseArgs({
  options: {
    subs: { type: 'string', default: '1000' },
    messages: { type: 'string', default: '400' },
    window: { type: 'string', default: '8' },
    repeat: { type: 'string', default: '3' },
  },
})
const SUBS = Number(values.subs)
const MESSAGES = Number(values.messages)
const WINDOW = Number(values.window)
const REPEAT = Number(values.repeat)

const settingsDir = mkdtempSync(join(tmpdir(), 'roomcast-bench-'))
const settingsFile = join(settingsDir, 'patterns.yaml')
writeFileSync(settingsFile, 'max_connections: 25000\nmessage_rate_limit: 1000000\nallow_client_publish: true\nlog_level: info\n')

async function freePort() {
  const srv = createServer().listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const { port } = srv.address()
  srv.close()
  await once(srv, 'close')
  return port
}

/** Spawns a process and resolves once `ready` matches its output. */
async function launch(argv, env, ready) {
  const child = spawn(argv[0], argv.slice(1), { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  await new Promise((resolve, reject) => {
    const onData = (d) => {
      if (out === null) return // ready: keep draining the pipe, keep nothing
      out += d
      if (ready.test(out)) {
        out = null
        resolve()
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.once('exit', (code) => reject(new Error(`${argv.join(' ')} exited ${code}: ${out?.slice(-500)}`)))
  })
  return child
}

async function stop(children) {
  await Promise.all(children.map((c) => (c.exitCode === null ? (c.kill('SIGTERM'), once(c, 'exit')) : null)))
}

async function startInstances(n, redisUrl) {
  const env = redisUrl === null ? { REDIS_URL: '' } : { REDIS_URL: redisUrl }
  const children = []
  const urls = []
  for (let i = 0; i < n; i++) {
    const port = await freePort()
    children.push(await launch([process.execPath, 'bin/roomcast.js', 'serve', 'patterns', '--settings', settingsFile, '--port', String(port)], env, /"listening"/))
    urls.push(`ws://127.0.0.1:${port}/ws`)
  }
  return { children, urls }
}

function open(url) {
  const ws = new WebSocket(url, { perMessageDeflate: false })
  return new Promise((resolve, reject) => {
    ws.once('error', reject)
    ws.once('message', () => resolve(ws)) // the welcome
  })
}

function request(ws, data) {
  const correlation_id = Math.random().toString(36).slice(2)
  return new Promise((resolve) => {
    const onMessage = (raw) => {
      if (raw.toString().includes(correlation_id)) {
        ws.off('message', onMessage)
        resolve()
      }
    }
    ws.on('message', onMessage)
    ws.send(JSON.stringify({ type: 'request', correlation_id, ...data }))
  })
}

/** One timed run: deliveries per second across every subscriber. */
async function run(urls) {
  const subs = []
  for (let i = 0; i < SUBS; i++) subs.push(await open(urls[i % urls.length]))
  await Promise.all(subs.map((ws) => request(ws, { event: 'subscribe', data: { channel: 'patterns:bench' } })))
  const publisher = await open(urls[0])
  let remaining = SUBS * MESSAGES
  const done = new Promise((resolve) => {
    for (const ws of subs) {
      ws.on('message', (raw) => {
        if (raw.includes('"pattern.detected"') && --remaining === 0) resolve()
      })
    }
  })
  const started = performance.now()
  let next = 0
  const worker = async () => {
    while (next < MESSAGES) {
      const i = next++
      await request(publisher, { event: 'publish', data: { channel: 'patterns:bench', event: 'pattern.detected', data: { category: 'bench', pattern: i } } })
    }
  }
  await Promise.all(Array.from({ length: WINDOW }, worker))
  await done
  const seconds = (performance.now() - started) / 1000
  for (const ws of [...subs, publisher]) ws.terminate()
  return Math.round((SUBS * MESSAGES) / seconds)
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const redisPort = await freePort()
const redis = await launch(['redis-server', '--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {}, /Ready to accept connections/)
const results = { one: [], redis2: [] }
try {
  for (let r = 0; r < REPEAT; r++) {
    for (const [kind, n, url] of [['one', 1, null], ['redis2', 2, `redis://127.0.0.1:${redisPort}`]]) {
      const { children, urls } = await startInstances(n, url)
      try {
        results[kind].push(await run(urls))
      } finally {
        await stop(children)
      }
      console.log(`  #${r + 1} ${kind}: ${results[kind].at(-1)} deliveries/s`)
    }
  }
} finally {
  await stop([redis])
}
const one = median(results.one)
const two = median(results.redis2)
console.log(`fan-out to ${SUBS} subscribers, ${MESSAGES} publishes, window ${WINDOW}, median of ${REPEAT}:`)
console.log(`  one instance:               ${one} deliveries/s`)
console.log(`  two instances over Redis:   ${two} deliveries/s`)
console.log(`  ratio (two over Redis / one): ${(two / one).toFixed(2)}`)
