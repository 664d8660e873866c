#!/usr/bin/env node
// Reference server for the benchmarks (issue 6): the leanest pub/sub one would hand-write on
// `ws`. A Map channel → Set of sockets, one serialisation per broadcast, ws.send per
// subscriber. With --coalesce each subscriber's socket is corked on its first write in an
// event-loop turn and all are uncorked on process.nextTick, so several broadcasts in one turn
// leave in one write per socket. Wire format (JSON text frames):
//   {"op":"sub","ch":C} → {"op":"ok","ch":C}    {"op":"pub","ch":C,"d":{…}} → {"ch":C,"d":{…}} to every subscriber
//   {"op":"req","id":N} → {"op":"res","id":N}
// With --welcome every connection is greeted first, as roomcast greets with its welcome event:
//   {"type":"welcome","id":UUID,"connection_id":UUID,"timestamp":ISO,"server":"ws-pubsub"}
// With --workers N, N processes (node:cluster) accept from one shared socket (SCHED_NONE, as
// roomcast's `workers_accept: shared`), each its own server with its own channels: a control for
// what a second process costs without roomcast. GET /health answers each process's pid.
import cluster from 'node:cluster'
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import { parseArgs } from 'node:util'
import { WebSocketServer } from 'ws'

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    coalesce: { type: 'boolean', default: false },
    welcome: { type: 'boolean', default: false },
    workers: { type: 'string', default: '1' },
  },
})
const primary = Number(values.workers) > 1 && cluster.isPrimary
if (primary) {
  cluster.schedulingPolicy = cluster.SCHED_NONE
  for (let i = 0; i < Number(values.workers); i++) cluster.fork()
}
const coalesce = values.coalesce === true
const welcome = values.welcome === true
const channels = new Map()
const kCorked = Symbol('corked')
const corked = []
let scheduled = false

function flush() {
  scheduled = false
  const list = corked.splice(0, corked.length)
  for (const s of list) {
    s[kCorked] = false
    s.uncork()
  }
}

function send(ws, buf) {
  if (coalesce) {
    const s = ws._socket
    if (s !== null && s[kCorked] !== true) {
      s[kCorked] = true
      s.cork()
      corked.push(s)
      if (!scheduled) {
        scheduled = true
        process.nextTick(flush)
      }
    }
  }
  ws.send(buf, { binary: false })
}

const http = createServer((req, res) => {
  if (req.url === '/health') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ instance_id: String(process.pid) }))
  else res.writeHead(404).end()
})
const wss = new WebSocketServer({ server: http, perMessageDeflate: false, clientTracking: false, maxPayload: 1024 * 1024 })

wss.on('connection', (ws) => {
  const subs = new Set()
  ws.on('error', () => {})
  if (welcome) ws.send(JSON.stringify({ type: 'welcome', id: randomUUID(), connection_id: randomUUID(), timestamp: new Date().toISOString(), server: 'ws-pubsub' }))
  ws.on('message', (raw) => {
    let m
    try {
      m = JSON.parse(raw)
    } catch {
      return
    }
    if (m.op === 'pub') {
      const set = channels.get(m.ch)
      if (set === undefined) return
      const buf = Buffer.from(JSON.stringify({ ch: m.ch, d: m.d }))
      for (const sub of set) send(sub, buf)
    } else if (m.op === 'sub') {
      let set = channels.get(m.ch)
      if (set === undefined) channels.set(m.ch, (set = new Set()))
      set.add(ws)
      subs.add(m.ch)
      send(ws, JSON.stringify({ op: 'ok', ch: m.ch }))
    } else if (m.op === 'req') {
      send(ws, JSON.stringify({ op: 'res', id: m.id }))
    }
  })
  ws.on('close', () => {
    for (const ch of subs) {
      const set = channels.get(ch)
      if (set === undefined) continue
      set.delete(ws)
      if (set.size === 0) channels.delete(ch)
    }
  })
})

// The workers exit when the primary's channel closes (node:cluster).
if (!primary) {
  http.listen(Number(values.port), values.host, () => {
    console.log(`listening ${http.address().port}`)
  })
}
process.on('SIGTERM', () => process.exit(0))
