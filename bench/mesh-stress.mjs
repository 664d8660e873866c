#!/usr/bin/env node
// A race hunt on the workers' mesh (src/broker/ipc-mesh.ts), not a benchmark: starts
// `roomcast serve patterns --workers W` of ROOT's build and, from its first accepted connection
// on, connects clients one after the other (subscribers and publishers, so they spread over the
// workers as they come up) while every publisher publishes in a closed loop (8 in flight). Checks
// that every subscriber got every publication sent after its subscribe answer, none twice, and
// each publisher's in order. MODE=kill: SIGKILLs a worker while publishing and connects clients
// until the restarted worker has a subscriber and a publisher (a publish answered by the killed
// worker must have reached the others). MODE=churn: subscribers unsubscribe and subscribe again
// while the publishers publish (no hole in what one gets of a publisher while subscribed).
// Prints one line per run; exits 1 at the first run that fails (KEEP=1: runs them all). Pinned
// to one core (`taskset -c 1`) it found the join's lost directory changes (26b53a8) before that
// fix (its 4th run).
//   [MODE=start|kill|churn] node bench/mesh-stress.mjs ROOT WORKERS RUNS [PUBS_PER_PUBLISHER]
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { resolve } from 'node:path'
import WebSocket from 'ws'

const [root, workers, runs, perPub] = [resolve(process.argv[2] ?? '.'), Number(process.argv[3] ?? 2), Number(process.argv[4] ?? 10), Number(process.argv[5] ?? 300)]
const MODE = process.env.MODE ?? 'start'
const SETTINGS = process.env.SETTINGS ?? new URL('settings/roomcast.yaml', import.meta.url).pathname
const CHANNEL = 'patterns:mesh'
const freePort = () => new Promise((r) => { const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => r(port)) }) })
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** A causal clock of this process: an answer read before a send was made has a smaller tick. */
let tick = 0

function client(port) {
  return new Promise((res, rej) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`)
    const c = { ws, waits: new Map(), events: [], n: 0, closed: false }
    ws.once('error', rej)
    ws.on('close', () => { c.closed = true; for (const w of c.waits.values()) w(null) })
    ws.once('message', () => {
      ws.on('message', (raw) => {
        const f = JSON.parse(raw.toString())
        if (f.type === 'event' && f.room === CHANNEL) c.events.push({ p: f.data.p, seq: f.data.seq, tick: tick++ })
        else if (f.correlation_id && c.waits.has(f.correlation_id)) { const w = c.waits.get(f.correlation_id); c.waits.delete(f.correlation_id); w(f) }
      })
      res(c)
    })
  })
}
function request(c, event, data) {
  const id = `r${c.n++}`
  return new Promise((res) => { c.waits.set(id, (f) => res(f === null ? null : { f, tick: tick++ })); c.ws.send(JSON.stringify({ type: 'request', event, data, correlation_id: id })) })
}

async function connectRetry(port, until) {
  for (;;) {
    try { return await client(port) } catch { if (Date.now() > until) throw new Error('no connection'); await sleep(5) }
  }
}

async function health(port) {
  return (await globalThis.fetch(`http://127.0.0.1:${port}/health`)).json()
}

async function run(k) {
  const port = await freePort()
  const child = spawn(process.execPath, [`${root}/bin/roomcast.js`, 'serve', 'patterns', '--settings', SETTINGS, '--port', String(port), '--workers', String(workers)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_FORMAT: 'json' } })
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  child.stdout.on('data', (d) => (stderr += d))
  const subs = [] // { c, windows: [{ from, to }] }: ticks while subscribed (from: the subscribe answer)
  const pubs = [] // { c, sent: [{ seq, tick }] }
  const publishing = []
  const t0 = Date.now()
  const publisher = (c, p) => {
    const me = { c, p, sent: [], failed: 0 }
    pubs.push(me)
    let seq = 0
    const one = async () => {
      while (seq < perPub && !c.closed) {
        const s = seq++
        const m = { seq: s, tick: tick++ }
        me.sent.push(m)
        const a = await request(c, 'publish', { channel: CHANNEL, event: 'aggregation.completed', data: { p, seq: s } })
        // Not answered (its worker died): it may or may not have gone out.
        if (a === null || a.f.data?.status !== 'published') { me.failed++; m.failed = true } else m.acked = a.tick
      }
    }
    publishing.push(Promise.all(Array.from({ length: 8 }, one)))
  }
  const subscriber = async (c) => {
    const me = { c, windows: [] }
    subs.push(me)
    const a = await request(c, 'subscribe', { channel: CHANNEL })
    if (a === null) return
    me.windows.push({ from: a.tick, to: Infinity })
    if (MODE === 'churn') {
      void (async () => {
        for (let i = 0; i < 30 && !c.closed; i++) {
          await sleep(Math.random() * 20)
          const w = me.windows.at(-1)
          // Unsubscribed from the moment the request leaves (what was sent before may still come).
          w.to = tick++
          if ((await request(c, 'unsubscribe', { channel: CHANNEL })) === null) return
          await sleep(Math.random() * 5)
          const b = await request(c, 'subscribe', { channel: CHANNEL })
          if (b === null) return
          me.windows.push({ from: b.tick, to: Infinity })
        }
      })()
    }
  }
  try {
    const first = await connectRetry(port, Date.now() + 15000)
    await subscriber(first)
    // Clients one after the other, as the workers come up: subscribers, and a publisher every third.
    let p = 0
    const conns = 3 * workers + 3
    for (let i = 1; i < conns; i++) {
      const c = await connectRetry(port, Date.now() + 15000)
      if (i % 3 === 1) publisher(c, p++)
      else await subscriber(c)
      await sleep(Math.random() * 15)
    }
    let killed = null
    let killTick = null
    let newWorker = ''
    if (MODE === 'kill') {
      // Every worker up first (a late starter is not the restarted one).
      let h = await health(port)
      while (h.workers.length < workers) { await sleep(20); h = await health(port) }
      killed = h.workers[Math.floor(Math.random() * h.workers.length)].pid
      await sleep(Math.random() * 30)
      killTick = tick++
      process.kill(killed, 'SIGKILL')
      // New subscribers and publishers while it restarts and after, until the restarted worker
      // has a subscriber and a publisher (the kernel hands each connection to one of the workers).
      const before = Math.max(...h.workers.map((w) => w.id))
      let subOnNew = false
      let pubOnNew = false
      for (let i = 0; i < 60 && !(subOnNew && pubOnNew); i++) {
        const c = await connectRetry(port, Date.now() + 15000)
        // A request taken by the dying worker fails: asked again.
        const fresh = async () => { for (;;) { try { return (await health(port)).workers.find((w) => w.id > before) } catch { await sleep(10) } } }
        const was = await fresh()
        if (i % 3 === 0 || (subOnNew && !pubOnNew)) {
          publisher(c, p++)
          await sleep(30)
          const now = await fresh()
          if (now !== undefined && now.messages_in > (was?.messages_in ?? 0)) pubOnNew = true
        } else {
          await subscriber(c)
          if ((await fresh())?.rooms > 0) subOnNew = true
        }
        await sleep(Math.random() * 40)
      }
      newWorker = `${subOnNew ? 'sub' : 'no sub'}/${pubOnNew ? 'pub' : 'no pub'} on the restarted worker`
    }
    await Promise.all(publishing)
    // Every subscriber still connected: what it must have, waited for (at most 5 s: the mesh holds 2 s at most).
    const live = subs.filter((s) => !s.c.closed && s.windows.length > 0)
    // What a subscriber must have: per subscription (from its answer) and publisher, everything sent
    // after the answer, up to the last one it got while so subscribed (it may have left before the
    // rest arrived: an answered publish has left its worker, not reached the others); everything
    // sent after the answer of a subscription it kept.
    const need = (s) => {
      const n = []
      s.windows.forEach((w, i) => {
        const until = s.windows[i + 1]?.from ?? Infinity
        for (const pb of pubs) {
          const got = s.c.events.filter((e) => e.p === pb.p && e.tick > w.from && e.tick < until)
          const upTo = w.to === Infinity ? Infinity : Math.max(-1, ...got.map((e) => e.seq))
          for (const m of pb.sent) if (!m.failed && m.tick > w.from && m.seq <= upTo) n.push(`${pb.p}:${m.seq}`)
        }
      })
      return n
    }
    const deadline = Date.now() + 5000
    for (;;) {
      const missing = live.map((s) => { const got = new Set(s.c.events.map((e) => `${e.p}:${e.seq}`)); return need(s).filter((x) => !got.has(x)) })
      if (missing.every((m) => m.length === 0) || Date.now() > deadline) {
        const problems = []
        live.forEach((s, i) => {
          if (missing[i].length > 0) problems.push(`sub ${i} missing ${missing[i].length}: ${missing[i].slice(0, 6).join(' ')}`)
        })
        for (const [i, s] of subs.entries()) {
          // Never twice; per publisher in order (gaps only where it was unsubscribed).
          const seen = new Map()
          const last = new Map()
          for (const e of s.c.events) {
            const key = `${e.p}:${e.seq}`
            if (seen.has(key)) problems.push(`sub ${i} twice ${key}`)
            seen.set(key, true)
            if ((last.get(e.p) ?? -1) >= e.seq) problems.push(`sub ${i} out of order p${e.p}: ${last.get(e.p)} then ${e.seq}`)
            last.set(e.p, e.seq)
          }
        }
        const failed = pubs.reduce((a, pb) => a + pb.failed, 0)
        if (problems.length > 0) {
          problems.push(`kill tick ${killTick}; publishers: ${pubs.map((pb) => `p${pb.p} closed=${pb.c.closed} failed=${pb.failed} sent=${pb.sent.length} ticks ${pb.sent[0]?.tick}..${pb.sent.at(-1)?.tick}`).join('; ')}`)
          const m0 = missing.find((m) => m.length > 0)
          if (m0) { const [pp, sq] = m0[0].split(':').map(Number); const e = pubs.find((pb) => pb.p === pp).sent.find((x) => x.seq === sq); const si = missing.indexOf(m0); const sw = live[si].windows.findLast((w) => e.tick > w.from); const near = live[si].c.events.filter((x) => x.p === pp && Math.abs(x.seq - sq) < 12).map((x) => `${x.seq}@${x.tick}`).join(' ')
            problems.push(`first missing ${m0[0]} (sub ${si}) sent at tick ${e.tick}, answered ${e.acked}, window ${sw?.from}..${sw?.to}; the sub got around it: ${near}; its windows ${live[si].windows.map((w) => `${w.from}..${w.to}`).join(' ')}`)
            problems.push(`subscribers: ${subs.map((s) => `[${s.windows.map((w) => w.from).join(',')}] closed=${s.c.closed} got=${s.c.events.filter((x) => x.p === pp).length}`).join(' ')}`) }
        }
        const h = await health(port).catch(() => null)
        const perWorker = h?.workers?.map((w) => `${w.id}:${w.connections}c/${w.rooms}r`).join(' ')
        const deaths = (stderr.match(/worker died/g) ?? []).length
        if (deaths !== (killed ? 1 : 0)) problems.push(`${deaths} workers died`)
        console.log(`run ${k} ${MODE} w${workers}: ${Date.now() - t0} ms, deaths ${deaths}, publishers ${pubs.length}, subscribers ${live.length}/${subs.length}, publish failures ${failed}${killed ? `, killed ${killed} (${newWorker})` : ''}, workers ${perWorker}${problems.length ? `\n  FAIL ${problems.slice(0, 12).join('\n  FAIL ')}` : ' ok'}`)
        return problems.length === 0
      }
      await sleep(20)
    }
  } finally {
    for (const s of subs) s.c.ws.terminate()
    for (const pb of pubs) pb.c.ws.terminate()
    child.kill('SIGTERM')
    await new Promise((r) => child.once('exit', r))
    if (/mesh: messages held too long/.test(stderr) || process.env.SHOW_STDERR) console.log(stderr.split('\n').filter((l) => /mesh|error/i.test(l)).slice(0, 10).join('\n'))
  }
}

// KEEP=1: every run, however many fail (a rate).
let failed = 0
for (let k = 0; k < runs && (failed === 0 || process.env.KEEP); k++) if (!(await run(k))) failed++
if (process.env.KEEP) console.log(`${failed} of ${runs} runs failed`)
process.exit(failed === 0 ? 0 : 1)
