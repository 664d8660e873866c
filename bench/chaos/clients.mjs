// The chaos run's clients. Each records what it received (rx[-<host>].jsonl, by the publication's `uid`)
// and its connection states (log[-<host>].jsonl), so the checker can tell what was owed to whom.
// They run in bench/chaos/client-host.mjs processes (the Python clients in their own).
//   FlatAgent          context service, raw flat frames: an identified agent that acks tracked
//                      events, relies on the server's restore after a reconnect, publishes
//   RecoveringClient   workflow service through roomcast/client (dist/): history channels,
//                      recovery with `since` on every reconnect, publishes
//   RawEnvelope        workflow service, raw envelope frames as the Python clients send them,
//                      on best-effort channels (no history, no since)
//   SlowConsumer       raw envelope on the busy history channels, stops reading for seconds
//                      at a time (the server cuts it as a slow consumer)
//   PythonClients      real Python clients (pyclients.py: python3-websockets, a few processes
//                      holding many connections) on best-effort channels
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { RoomcastClient } from '../../dist/src/client/index.js'

const PYCLIENTS = join(fileURLToPath(import.meta.url), '..', 'pyclients.py')

const TRACKED = /^(task|subtask|message)\./

function backoff(random, attempt) {
  return Math.min(5000, 250 * 2 ** attempt) * (0.5 + random() / 2)
}

export class FlatAgent {
  constructor({ index, urls, rec, random, topics }) {
    this.name = `agent-${index}`
    this.urls = urls
    this.rec = rec
    this.random = random
    this.topic = `topics/g${index % topics}`
    this.session = `s-${index % 10}`
    this.ws = null
    this.up = false
    this.connects = 0
    this.attempt = 0
    this.closed = false
    this.waiting = new Map() // publish id → resolve
    this.seq = 0
    this.lastFrame = 0
    this.restorePending = false
    this.timer = setInterval(() => this.#liveness(), 2000)
  }

  start() {
    const url = this.urls[Math.floor(this.random() * this.urls.length)]
    const ws = new WebSocket(`${url}/?agent_id=${this.name}&session_id=${this.session}`)
    this.ws = ws
    ws.on('error', () => {})
    ws.on('message', (raw) => this.#frame(ws, raw))
    ws.on('close', (code) => {
      if (this.ws !== ws) return
      if (this.up) this.rec.log('conn', { c: this.name, up: false, code })
      this.up = false
      for (const resolve of this.waiting.values()) resolve({ ok: null, code: 'CLOSED' })
      this.waiting.clear()
      if (!this.closed) setTimeout(() => this.start(), backoff(this.random, this.attempt++))
    })
  }

  #frame(ws, raw) {
    if (this.ws !== ws) return
    this.lastFrame = Date.now()
    let f
    try {
      f = JSON.parse(raw)
    } catch {
      this.rec.log('undecodable', { c: this.name })
      return
    }
    if (f.type === 'connected') {
      this.up = true
      this.attempt = 0
      this.connects++
      this.rec.log('conn', { c: this.name, up: true, n: this.connects })
      if (this.connects === 1) {
        ws.send(JSON.stringify({ type: 'subscribe', channel: 'metrics', id: 'sub-m' }))
        ws.send(JSON.stringify({ type: 'subscribe', channel: this.topic, id: 'sub-t' }))
      } else {
        // The server restores what the agent held: metric.update arrives on `metrics` without a subscribe.
        this.restorePending = Date.now()
      }
      return
    }
    if (f.type === 'ping') return ws.send('{"type":"pong"}')
    if (f.type === 'ack' && this.waiting.has(f.id)) {
      const resolve = this.waiting.get(f.id)
      this.waiting.delete(f.id)
      resolve(f.success ? { ok: true, id: f.message_id } : { ok: false, code: f.code ?? 'UNKNOWN', msg: f.error })
      return
    }
    if (f.type === 'event') {
      if (f.channel === 'metrics' && this.restorePending) {
        this.rec.log('restore', { c: this.name, ms: Date.now() - this.restorePending })
        this.restorePending = false
      }
      if (TRACKED.test(f.event) && typeof f.id === 'string') ws.send(JSON.stringify({ type: 'ack', message_id: f.id }))
      if (f.data?.uid !== undefined) this.rec.rx({ c: this.name, u: f.data.uid, id: f.id, ch: f.channel ?? null })
    }
  }

  #liveness() {
    const ws = this.ws
    if (ws === null || !this.up) return
    // The server pings every flat.ping_interval (5 s here): silence means a dead path (stall,
    // half-open). Well inside the 15 s a tracked event is retried for (3 attempts, 5 s apart).
    if (Date.now() - this.lastFrame > 8000) {
      this.rec.log('liveness', { c: this.name })
      ws.terminate()
    }
    if (this.restorePending && Date.now() - this.restorePending > 20000) {
      this.rec.log('restore.missing', { c: this.name })
      this.restorePending = false
      ws.send(JSON.stringify({ type: 'subscribe', channel: 'metrics', id: 'sub-m' }))
      ws.send(JSON.stringify({ type: 'subscribe', channel: this.topic, id: 'sub-t' }))
    }
  }

  /** Publishes over the socket; resolves with the server's answer, CLOSED or TIMEOUT. */
  publish(channel, event, data) {
    const ws = this.ws
    if (ws === null || !this.up) return Promise.resolve({ ok: null, code: 'NOT_CONNECTED' })
    const id = `p${this.seq++}`
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        if (this.waiting.delete(id)) resolve({ ok: null, code: 'TIMEOUT' })
      }, 10000)
      this.waiting.set(id, (a) => {
        clearTimeout(t)
        resolve(a)
      })
      ws.send(JSON.stringify({ type: 'publish', channel, event, data, id }))
    })
  }

  close() {
    this.closed = true
    clearInterval(this.timer)
    this.ws?.terminate()
  }
}

export class RecoveringClient {
  constructor({ index, urls, rec, random, channels }) {
    this.name = `rec-${index}`
    this.rec = rec
    this.channels = channels
    this.wire = { frames: 0, stale: 0 }
    const lastWire = new Map() // channel → last offset on this socket
    this.client = new RoomcastClient({
      url: `${urls[index % urls.length]}/ws`,
      dialect: 'envelope',
      requestTimeout: 10000,
      socket: (url) => {
        // Reconnects go to any instance, like behind a load balancer.
        const u = urls[Math.floor(random() * urls.length)]
        const ws = new WebSocket(url.replace(/^ws:\/\/[^/]+/, u))
        lastWire.clear()
        ws.on('error', () => {})
        ws.on('message', (raw) => {
          // On the wire: a history event at or below one already seen on this socket (absorbed by the client).
          this.wire.frames++
          const s = raw.toString()
          if (!s.includes('"offset"')) return
          const f = JSON.parse(s)
          if (f.type !== 'event' || f.room === null) return
          const last = lastWire.get(f.room)
          if (last !== undefined && last.epoch === f.epoch && f.offset <= last.offset) this.wire.stale++
          lastWire.set(f.room, { offset: f.offset, epoch: f.epoch })
        })
        return ws
      },
    })
    this.client.onState((state) => rec.log('state', { c: this.name, state }))
    this.client.onSubscribed((s) => rec.log('subscribed', { c: this.name, ch: s.channel, recovered: s.recovered, re: s.resubscribe, pos: s.position }))
    this.client.onError((e) => rec.log('client.error', { c: this.name, code: e.code, msg: String(e.message).slice(0, 200) }))
    this.client.onAny((event, data, meta) => {
      if (data.uid === undefined) return
      rec.rx({ c: this.name, u: data.uid, ch: meta.channel, off: meta.position?.offset ?? null, ep: meta.position?.epoch ?? null })
    })
  }

  async start() {
    await this.client.connect()
    for (const ch of this.channels) {
      // The first subscribe can meet a lost connection too (a loaded host misses pings): try again.
      for (;;) {
        try {
          const s = await this.client.subscribe(ch)
          // Where this client's promise starts: every accepted publication above this offset is owed.
          this.rec.log('start', { c: this.name, ch, pos: s.position })
          break
        } catch (e) {
          this.rec.log('start.retry', { c: this.name, ch, code: e.code ?? null })
          await new Promise((r) => setTimeout(r, 500))
        }
      }
    }
  }

  async publish(channel, event, data) {
    try {
      const r = await this.client.publish(channel, event, data)
      return { ok: true, id: r.id ?? null, off: r.offset ?? null, ep: r.epoch ?? null }
    } catch (e) {
      return { ok: ['CLOSED', 'TIMEOUT'].includes(e.code) ? null : false, code: e.code ?? 'UNKNOWN', msg: String(e.message).slice(0, 200) }
    }
  }

  get state() {
    return this.client.state
  }

  close() {
    this.client.close()
  }
}

/** Raw envelope frames, plain subscribe, fixed 1 s reconnect: what a Python client does. */
export class RawEnvelope {
  constructor({ name, urls, rec, random, channels, slow = false }) {
    this.name = name
    this.urls = urls
    this.rec = rec
    this.random = random
    this.channels = channels
    this.slow = slow
    this.closed = false
    this.up = false
    this.cuts = 0
  }

  start() {
    const ws = new WebSocket(`${this.urls[Math.floor(this.random() * this.urls.length)]}/ws`)
    this.ws = ws
    ws.on('error', () => {})
    ws.on('open', () => {
      this.up = true
      this.rec.log('conn', { c: this.name, up: true })
      for (const [i, ch] of this.channels.entries()) {
        ws.send(JSON.stringify({ type: 'request', event: 'subscribe', data: { channel: ch }, correlation_id: `s${i}` }))
      }
      if (this.slow) this.#stallLater(ws)
    })
    ws.on('message', (raw) => {
      if (this.slow) return
      const f = JSON.parse(raw)
      if (f.type === 'event' && f.data?.uid !== undefined) this.rec.rx({ c: this.name, u: f.data.uid, ch: f.room })
    })
    ws.on('close', (code) => {
      if (this.ws !== ws) return
      if (this.up) this.rec.log('conn', { c: this.name, up: false, code })
      this.up = false
      if (!this.closed) setTimeout(() => this.start(), 1000)
    })
  }

  /** A slow consumer: reads nothing for 5–20 s, now and then. */
  #stallLater(ws) {
    setTimeout(() => {
      if (this.ws !== ws || this.closed) return
      const ms = 5000 + this.random() * 15000
      ws._socket?.pause()
      this.rec.log('slow.pause', { c: this.name, ms: Math.round(ms) })
      setTimeout(() => {
        ws._socket?.resume()
        this.#stallLater(ws)
      }, ms)
    }, 5000 + this.random() * 20000)
  }

  close() {
    this.closed = true
    this.ws?.terminate()
  }
}

/**
 * Real Python clients (/usr/bin/python3 with Debian's python3-websockets, bench/chaos/pyclients.py):
 * `procs` processes, each holding many envelope connections the way mcp_common.websocket does
 * (event-frame subscribe with data.room, the library's own keepalive, a fixed 1 s reconnect).
 * Their connection states come back as JSON lines, recorded here like the others'; process i
 * writes its receipts itself to rx-py-<i>.jsonl beside the recorder's files, `t` on its clock.
 */
export class PythonClients {
  constructor({ clients, urls, rec, procs = 4 }) {
    this.clients = clients // [{ name, channels }]
    this.urls = urls
    this.rec = rec
    this.procs = Math.max(1, Math.min(procs, clients.length))
    this.children = []
    this.upSet = new Set()
    this.exits = []
  }

  start() {
    for (let i = 0; i < this.procs; i++) {
      const mine = this.clients.filter((_, j) => j % this.procs === i)
      const config = { urls: this.urls, clients: mine, rx: join(this.rec.dir, `rx-py-${i}.jsonl`), t0: this.rec.t0 }
      const child = spawn('/usr/bin/python3', [PYCLIENTS, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'pipe'] })
      const proc = { child, closed: false, exited: new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal }))) }
      proc.exited.then((e) => {
        if (!proc.closed) this.rec.log('python.exit', { proc: i, ...e })
      })
      createInterface({ input: child.stdout }).on('line', (line) => {
        let o
        try {
          o = JSON.parse(line)
        } catch {
          this.rec.log('python.stdout', { proc: i, line: line.slice(0, 300) })
          return
        }
        if (o.k === 'rx') this.rec.rx({ c: o.c, u: o.u, ch: o.ch })
        else if (o.k === 'conn') {
          if (o.up) this.upSet.add(o.c)
          else this.upSet.delete(o.c)
          this.rec.log('conn', { c: o.c, up: o.up, ...(o.up ? {} : { code: o.code }) })
        } else if (o.k === 'closed') proc.closed = true
        else this.rec.log(`python.${o.k}`, { proc: i, ...o })
      })
      createInterface({ input: child.stderr }).on('line', (line) => this.rec.log('python.stderr', { proc: i, line: line.slice(0, 500) }))
      this.children.push(proc)
    }
  }

  get up() {
    return this.upSet.size
  }

  /** Ends stdin: each process closes its connections, says `closed` and exits; killed after 10 s. */
  async close() {
    await Promise.all(
      this.children.map(async (p) => {
        p.child.stdin.end()
        const t = setTimeout(() => p.child.kill('SIGKILL'), 10000)
        await p.exited
        clearTimeout(t)
      }),
    )
  }
}
