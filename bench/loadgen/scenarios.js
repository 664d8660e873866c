// The benchmark scenarios, run inside the load-generator process. Each returns a plain
// result object; `mark(name)` tells the runner when a measured window starts and ends so it
// can sample the server's CPU over the same window.
import { once } from 'node:events'
import { get as httpGet } from 'node:http'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { Client, openMany } from './client.js'
import { Tracker } from './tracker.js'

const PAD = 'x'.repeat(4096)
let payloadBytes = 100

/** A JSON payload of about `payloadBytes` (default 100) carrying its sequence number. */
function payload(seq) {
  return `{"seq":${seq},"pad":"${PAD.slice(0, payloadBytes - 14 - String(seq).length)}"}`
}

async function eachLimit(items, limit, fn) {
  let next = 0
  const worker = async () => {
    while (next < items.length) await fn(items[next++])
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}

/** Waits until every publish completed or nothing progressed for `idleMs`. */
async function drain(tracker, idleMs = 3000) {
  tracker.lastProgress = performance.now()
  while (tracker.inflight > 0 && performance.now() - tracker.lastProgress < idleMs) await sleep(20)
}

function cpuPercent(start, wallMs) {
  const d = process.cpuUsage(start)
  return Math.round(((d.user + d.system) / 1000 / wallMs) * 1000) / 10
}

/**
 * Which of `p` publishers sends publication `seq`: runs of `p` in turn (0,0,0,1,1,1,2,2,2 for 3),
 * so that with channels taken round robin every publisher reaches every subscriber's instance.
 */
export const publisherOf = (seq, p) => Math.floor(seq / p) % p

/**
 * Publishes for warmup + measure ms, either closed-loop (a window of publishes in flight, the
 * next sent when one has reached every subscriber) or open-loop at a fixed publish rate.
 * `publisher`: one client, or several taking the publications in turn (publisherOf).
 */
async function drive(tracker, publisher, pick, cfg, mark, label) {
  const { warmupMs, measureMs } = cfg
  const publishers = Array.isArray(publisher) ? publisher : [publisher]
  let running = true
  let skipped = 0
  const send = () => {
    const [ch, expected] = pick(tracker.seq + 1)
    const s = tracker.next(expected, performance.now())
    const p = publishers[publisherOf(s, publishers.length)]
    p.ws.send(p.proto.pub(ch, payload(s)))
  }
  let timer = null
  if (cfg.mode === 'window') {
    tracker.onComplete = () => {
      if (running) send()
    }
    for (let i = 0; i < cfg.window; i++) send()
  } else {
    tracker.onComplete = null
    const t0 = performance.now()
    let sent = 0
    timer = setInterval(() => {
      const due = Math.floor(((performance.now() - t0) * cfg.pubsPerSec) / 1000) - sent
      for (let i = 0; i < due; i++) {
        sent++
        if (tracker.inflight >= cfg.maxInflight) skipped++
        else send()
      }
    }, 1)
  }
  await sleep(warmupMs)
  tracker.resetWindow()
  tracker.measuring = true
  mark(`${label}:start`)
  const seq0 = tracker.seq
  const cpu = process.cpuUsage()
  const t0 = performance.now()
  // Watch for a stall (a lost delivery stops a closed loop).
  let stalled = false
  const end = t0 + measureMs
  tracker.lastProgress = t0
  while (performance.now() < end) {
    await sleep(50)
    if (cfg.mode === 'window' && performance.now() - tracker.lastProgress > 3000) {
      stalled = true
      break
    }
  }
  const wall = performance.now() - t0
  tracker.measuring = false
  mark(`${label}:end`)
  const published = tracker.seq - seq0
  const loadgenCpu = cpuPercent(cpu, wall)
  running = false
  if (timer !== null) clearInterval(timer)
  const delivered = tracker.delivered
  const lat = tracker.latency()
  await drain(tracker)
  return {
    deliveriesPerSec: Math.round((delivered / wall) * 1000),
    delivered,
    publishesPerSec: Math.round((published / wall) * 1000),
    latencyMs: lat,
    loadgenCpu,
    stalled,
    skipped,
  }
}

async function subscribers(proto, cfg, n, channelsOf) {
  const t0 = performance.now()
  const opened = await openMany(proto, cfg.urls, n, cfg.concurrency)
  await eachLimit(opened.clients, cfg.concurrency, async (c) => {
    for (const ch of channelsOf(c.index)) await c.subscribe(ch)
  })
  return { ...opened, setupMs: Math.round(performance.now() - t0) }
}

function summary(tracker, subs) {
  let nonText = 0
  let closedEarly = 0
  for (const c of subs) {
    nonText += c.nonText
    if (c.closedEarly) closedEarly++
  }
  return { lost: tracker.missing(), outOfOrder: tracker.outOfOrder, nonTextFrames: nonText, closedEarly, publishes: tracker.seq }
}

/** Fan-out: 1 publisher, N subscribers on one channel; closed loop, then a fixed rate. */
export async function fanout(proto, cfg, mark) {
  payloadBytes = cfg.payloadBytes ?? 100
  const subs = await subscribers(proto, cfg, cfg.subscribers, () => ['bench'])
  const tracker = new Tracker()
  for (const c of subs.clients) c.onDelivery = (client, seq) => tracker.delivery(client, seq, performance.now())
  const publisher = await new Client(proto, -1).open(cfg.urls[0])
  const ch = proto.channel('bench')
  const n = subs.clients.length
  const pick = () => [ch, n]
  const window = await drive(tracker, publisher, pick, { ...cfg, mode: 'window' }, mark, 'window')
  // The matched rate (run.js --matched): a fixed rate near the closed loop's, the same for a `-wN`
  // kind as for its one-worker self in the round (cfg.matchPubsPerSec, from the runner), so both
  // do the same work at the same pace: see docs/performance.md "Comparing workers at equal work".
  let matched
  if (cfg.matchFraction > 0) {
    const pubsPerSec = cfg.matchPubsPerSec ?? (cfg.matchFraction * window.deliveriesPerSec) / n
    matched = { ...(await drive(tracker, publisher, pick, { ...cfg, mode: 'rate', measureMs: 2 * cfg.measureMs, pubsPerSec, maxInflight: 1000 }, mark, 'matched')), offeredPubsPerSec: Math.round(pubsPerSec * 10) / 10, own: cfg.matchPubsPerSec === undefined }
  }
  const rate = await drive(tracker, publisher, pick, { ...cfg, mode: 'rate', measureMs: 2 * cfg.measureMs, pubsPerSec: cfg.rate / n, maxInflight: 1000 }, mark, 'rate')
  const result = { connectErrors: subs.errors, connectErrorSamples: subs.firstErrors, setupMs: subs.setupMs, subscribers: n, window, ...(matched === undefined ? {} : { matched }), rate, ...summary(tracker, subs.clients) }
  publisher.close()
  for (const c of subs.clients) c.close()
  return result
}

/**
 * Many channels: N connections, each on its own channel plus a shared one. Subscribers are split
 * over the server's URLs (its instances); `publishers: 'each'` publishes from one connection per
 * URL in turn, else from one connection to the first.
 */
export async function channels(proto, cfg, mark) {
  payloadBytes = cfg.payloadBytes ?? 100
  const subs = await subscribers(proto, cfg, cfg.subscribers, (i) => [`c${i}`, 'shared'])
  const publisherUrls = cfg.publishers === 'each' ? cfg.urls : [cfg.urls[0]]
  const order = { publisherOf: (seq) => publisherOf(seq, publisherUrls.length), channelOf: (seq) => (seq % cfg.sharedEvery === 0 ? 1 : 0) }
  const tracker = new Tracker(publisherUrls.length > 1 ? order : null)
  for (const c of subs.clients) c.onDelivery = (client, seq) => tracker.delivery(client, seq, performance.now())
  const publishers = await Promise.all(publisherUrls.map((url, i) => new Client(proto, -1 - i).open(url)))
  const publisher = publishers.length === 1 ? publishers[0] : publishers
  const n = subs.clients.length
  const own = subs.clients.map((c) => proto.channel(`c${c.index}`))
  const shared = proto.channel('shared')
  let k = 0
  const pick = (seq) => (seq % cfg.sharedEvery === 0 ? [shared, n] : [own[k++ % n], 1])
  const window = await drive(tracker, publisher, pick, { ...cfg, mode: 'window' }, mark, 'window')
  const result = { connectErrors: subs.errors, connectErrorSamples: subs.firstErrors, setupMs: subs.setupMs, subscribers: n, channels: n + 1, publishers: publishers.length, window, ...summary(tracker, subs.clients), ...(publishers.length > 1 ? { reorderedAcrossChannels: tracker.reorderedAcrossChannels } : {}) }
  for (const p of publishers) p.close()
  for (const c of subs.clients) c.close()
  return result
}

/**
 * Connect storm: open N connections as fast as the server admits them, hold, report. With
 * `warmConnections`, that many are opened and closed first, outside the measured window: the
 * storm then measures a service whose processes have already run the connect path.
 */
export async function storm(proto, cfg, mark, waitRelease, settle) {
  let settled = null
  if (cfg.warmConnections > 0) {
    await warmUp(proto, cfg)
    // A client's close comes before the server has closed its side and cleaned the connection up:
    // the runner waits until the server holds no more sockets than before the warm-up and its CPU
    // is quiet, so that the measured window holds the storm alone.
    settled = await settle()
  }
  const cpu = process.cpuUsage()
  mark('storm:start')
  const t0 = performance.now()
  // The generator's own event-loop delay: a handshake timeout is only the server's when this stays well below it.
  const lag = monitorEventLoopDelay({ resolution: 10 })
  lag.enable()
  const opened = await openMany(proto, cfg.urls, cfg.connections, cfg.concurrency, cfg.handshakeTimeoutMs)
  lag.disable()
  const wall = performance.now() - t0
  mark('storm:end')
  const loadgenCpu = cpuPercent(cpu, wall)
  await sleep(1000)
  await waitRelease({ connected: opened.clients.length })
  let closedEarly = 0
  const errorCauses = { ...opened.causes }
  for (const c of opened.clients) {
    if (!c.closedEarly) continue
    closedEarly++
    const cause = `closed ${c.closeCode} after ready`
    errorCauses[cause] = (errorCauses[cause] ?? 0) + 1
  }
  for (const c of opened.clients) c.close()
  return {
    connections: opened.clients.length,
    errors: opened.errors + closedEarly,
    errorSamples: opened.firstErrors,
    errorCauses,
    handshakeMs: opened.handshakeMs,
    loadgenLagMs: { p99: Math.round(lag.percentile(99) / 1e6), max: Math.round(lag.max / 1e6) },
    connectMs: Math.round(wall),
    connectionsPerSec: Math.round((opened.clients.length / wall) * 1000),
    loadgenCpu,
    ...(settled === null ? {} : { warmSettle: settled }),
  }
}

/** Opens `warmConnections` clients and closes them with a close handshake, waiting for every close. */
async function warmUp(proto, cfg) {
  const warm = await openMany(proto, cfg.urls, cfg.warmConnections, cfg.concurrency, cfg.handshakeTimeoutMs)
  // The server answers each close frame before the client's 'close': its side of every close is done.
  await Promise.all(
    warm.clients.map((c) => {
      c.closedEarly = false
      if (c.ws.readyState === c.ws.CLOSED) return undefined
      const closed = once(c.ws, 'close')
      c.ws.close(1000)
      return closed
    }),
  )
}

/** Request/response round trip: one connection, one request outstanding at a time. */
export async function rtt(proto, cfg, mark) {
  const c = await new Client(proto, 0).open(cfg.urls[0])
  for (let i = 0; i < cfg.warmupRequests; i++) await c.call(proto.req(c.nextId++))
  const tracker = new Tracker()
  mark('rtt:start')
  const cpu = process.cpuUsage()
  const t0 = performance.now()
  for (let i = 0; i < cfg.requests; i++) {
    const s = performance.now()
    await c.call(proto.req(c.nextId++))
    tracker.samples[tracker.nSamples++] = performance.now() - s
  }
  const wall = performance.now() - t0
  mark('rtt:end')
  c.close()
  return { roundTripsPerSec: Math.round((cfg.requests / wall) * 1000), latencyMs: tracker.latency(), loadgenCpu: cpuPercent(cpu, wall) }
}

/** GET a JSON document from a roomcast instance (its WebSocket URL's port). */
function getJson(wsUrl, path) {
  const { port } = new URL(wsUrl)
  return new Promise((resolve, reject) => {
    const req = httpGet({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (body += d))
      res.on('end', () => {
        try {
          resolve(JSON.parse(body))
        } catch (err) {
          reject(err)
        }
      })
    })
    req.on('error', reject)
    req.setTimeout(30000, () => req.destroy(new Error('timeout')))
  })
}

/**
 * Waits until every instance counts `n` subscribers on `channel` cluster-wide (GET /channels):
 * a join is done when the other instance has heard of it too. Polled (the answer is the event
 * waited for); gives up after `timeoutMs`.
 */
async function clusterCounts(urls, channel, n, timeoutMs = 120000) {
  const end = performance.now() + timeoutMs
  for (const url of urls) {
    for (;;) {
      const { channels } = await getJson(url, '/channels')
      const seen = channels.find((c) => c.channel === channel)?.subscribers ?? 0
      if (seen === n) break
      if (performance.now() > end) throw new Error(`${url} counts ${seen} subscribers on ${channel}, not ${n}, after ${timeoutMs} ms`)
      await sleep(20)
    }
  }
}

/** `total` requests from `callers` (each one outstanding at a time); answer bytes and answers failing `ok`. */
async function calls(callers, total, frame, ok) {
  let next = 0
  let bytes = 0
  let bad = 0
  let sample = null
  const t0 = performance.now()
  await Promise.all(
    callers.map(async (c) => {
      while (next < total) {
        next++
        const answer = await c.call(frame(c.nextId++))
        bytes += answer.length
        if (!ok(answer)) {
          bad++
          sample ??= answer.toString('utf8', 0, 300)
        }
      }
    }),
  )
  const ms = performance.now() - t0
  return { calls: total, ms: Math.round(ms), perSec: Math.round((total / ms) * 1000), answerBytes: Math.round(bytes / total), bad, badSample: sample }
}

/** `total` reads of the whole presence list of `channel`, page after page; each must list `n` distinct members. */
async function walks(callers, total, channel, n) {
  let next = 0
  let pages = 0
  let bad = 0
  const t0 = performance.now()
  await Promise.all(
    callers.map(async (c) => {
      while (next < total) {
        next++
        const seen = new Set()
        let after = null
        do {
          const data = JSON.parse(await c.call(`{"type":"request","event":"presence","data":{"channel":"${channel}"${after === null ? '' : `,"after":${JSON.stringify(after)}`}},"correlation_id":"w${c.nextId++}"}`)).data
          pages++
          for (const m of data.members ?? []) seen.add(m.connection_id)
          after = data.next ?? null
        } while (after !== null)
        if (seen.size !== n) bad++
      }
    }),
  )
  const ms = performance.now() - t0
  return { walks: total, pages, ms: Math.round(ms), bad }
}

/**
 * Presence (issue 22): N subscribers on one channel split over the instances (cfg.urls), then
 *  - join: every subscriber subscribes, until every instance counts them all;
 *  - window: fan-out on that channel, closed loop, publisher on the first instance;
 *  - status, stats, list: get_status (the baseline request), presence_stats and presence calls
 *    from `callers` connections spread over the instances (presence only where cfg.presence);
 *  - walk: the whole presence list read in pages (`after` = the previous answer's `next`);
 *  - leave: every subscriber unsubscribes, until every instance counts none.
 * The runner samples the servers' CPU over each phase (marks).
 */
export async function presence(proto, cfg, mark) {
  payloadBytes = cfg.payloadBytes ?? 100
  const ch = proto.channel('bench')
  const opened = await openMany(proto, cfg.urls, cfg.subscribers, cfg.concurrency)
  const subs = opened.clients
  const n = subs.length
  const callers = await Promise.all(Array.from({ length: cfg.callers }, (_, i) => new Client(proto, -2 - i).open(cfg.urls[i % cfg.urls.length])))
  const publisher = await new Client(proto, -1).open(cfg.urls[0])

  let refused = 0
  mark('join:start')
  let t0 = performance.now()
  await eachLimit(subs, cfg.concurrency, async (c) => {
    const answer = await c.subscribe('bench')
    if (!answer.includes('"status":"subscribed"')) refused++
  })
  await clusterCounts(cfg.urls, ch, n)
  const join = { ops: n, ms: Math.round(performance.now() - t0), refused }
  mark('join:end')

  // The fan-out first: both kinds measure it right after the same joins (the answers of the
  // presence calls are large garbage that the other kind does not make).
  const tracker = new Tracker()
  for (const c of subs) c.onDelivery = (client, seq) => tracker.delivery(client, seq, performance.now())
  const window = await drive(tracker, publisher, () => [ch, n], { ...cfg, mode: 'window' }, mark, 'window')

  const req = (event) => (id) => `{"type":"request","event":"${event}","data":{"channel":"${ch}"},"correlation_id":"p${id}"}`
  mark('status:start')
  const status = await calls(callers, cfg.statusCalls, proto.req, (a) => a.includes('"type":"response"'))
  mark('status:end')
  let stats = null
  let list = null
  let walk = null
  if (cfg.presence) {
    mark('stats:start')
    stats = await calls(callers, cfg.statsCalls, req('presence_stats'), (a) => a.includes(`"clients":${n},`))
    mark('stats:end')
    // One presence answer: the whole list, or its first page where lists come in pages (at most 1,000).
    mark('list:start')
    list = await calls(callers, cfg.listCalls, req('presence'), (a) => a.includes(`"clients":${n},`) && (a.includes(`"count":${n},`) || a.includes('"count":1000,')))
    mark('list:end')
    // The whole list read page after page (`next` → `after`) by one caller at a time: every member once.
    mark('walk:start')
    walk = await walks(callers, Math.max(1, Math.round(cfg.listCalls / 10)), ch, n)
    mark('walk:end')
  }

  mark('leave:start')
  t0 = performance.now()
  await eachLimit(subs, cfg.concurrency, (c) => c.call(`{"type":"request","event":"unsubscribe","data":{"channel":"${ch}"},"correlation_id":"u${c.nextId++}"}`))
  await clusterCounts(cfg.urls, ch, 0)
  const leave = { ops: n, ms: Math.round(performance.now() - t0) }
  mark('leave:end')

  const result = { connectErrors: opened.errors, connectErrorSamples: opened.firstErrors, subscribers: n, instances: cfg.urls.length, presence: cfg.presence === true, join, status, stats, list, walk, window, leave, ...summary(tracker, subs) }
  publisher.close()
  for (const c of [...callers, ...subs]) c.close()
  return result
}
