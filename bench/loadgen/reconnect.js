// The reconnect scenario: N subscribers of one channel drop together while a publisher goes on
// at a fixed rate, then reconnect at once. With history they subscribe with `since` (their last
// offset and the epoch) and must end with every publication exactly once; without history they
// simply resubscribe, and what was published while they were away is lost. Publications on the
// bench channel are numbered 1, 2, 3 … by the publisher, so on a fresh server offset = seq.
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { Client } from './client.js'

const payload = (seq) => `{"seq":${seq},"pad":"${'x'.repeat(80)}"}`

/** Per subscriber: the seqs it got (a bitmap over the run), duplicates, and its last seq. */
class Seen {
  constructor(max) {
    this.bits = new Uint8Array(max + 1)
    this.count = 0
    this.dups = 0
    this.last = 0
  }
  add(seq) {
    if (seq >= this.bits.length) return
    if (this.bits[seq] === 1) this.dups++
    else {
      this.bits[seq] = 1
      this.count++
    }
    if (seq > this.last) this.last = seq
  }
}

const retries = { count: 0 }

/**
 * Opens one subscriber and subscribes it (with since when given); resolves with the answer's
 * data. A refused or timed-out handshake is retried after a short pause, as a client's backoff
 * would (counted: a loaded host refuses some of thousands of simultaneous handshakes).
 */
async function join(proto, url, index, ch, seen, since) {
  for (let attempt = 1; ; attempt++) {
    const c = new Client(proto, index)
    try {
      await c.open(url)
    } catch (err) {
      if (attempt >= 20) throw err
      retries.count++
      await sleep(100 * attempt)
      continue
    }
    c.onDelivery = (_client, seq) => seen.add(seq)
    const frame = since === null ? proto.sub(ch, c.nextId++) : proto.subSince(ch, c.nextId++, since)
    const answer = JSON.parse((await c.call(frame)).toString())
    return { client: c, data: answer.data ?? {} }
  }
}

async function eachLimit(n, limit, fn) {
  let next = 0
  const worker = async () => {
    while (next < n) await fn(next++)
  }
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker))
}

/** Waits until `check()` holds or `timeoutMs` passed; returns whether it held. */
async function until(check, timeoutMs) {
  const end = performance.now() + timeoutMs
  while (!check()) {
    if (performance.now() > end) return false
    await sleep(5)
  }
  return true
}

export async function reconnect(proto, cfg, mark) {
  const n = cfg.subscribers
  const ch = proto.channel('bench')
  // Room for ten minutes of publications: far longer than a run.
  const maxSeq = cfg.pubsPerSec * 600 + 10
  const seen = Array.from({ length: n }, () => new Seen(maxSeq))
  const subs = new Array(n)
  let epoch = null
  await eachLimit(n, cfg.concurrency, async (i) => {
    const { client, data } = await join(proto, cfg.urls[i % cfg.urls.length], i, ch, seen[i], null)
    subs[i] = client
    if (typeof data.epoch === 'string') epoch = data.epoch
  })
  const history = epoch !== null

  const publisher = await new Client(proto, -1).open(cfg.urls[0])
  publisher.onDelivery = () => {}
  let seq = 0
  const t0 = performance.now()
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - t0) * cfg.pubsPerSec) / 1000)
    while (seq < due) publisher.ws.send(proto.pub(ch, payload(++seq)))
  }, 5)
  await sleep(cfg.warmupMs)

  // Everyone drops at once; the publisher goes on.
  mark('reconnect:start')
  const retriesBefore = retries.count
  const dropAt = performance.now()
  const seqAtDrop = seq
  for (const c of subs) c.ws.terminate()
  await sleep(cfg.awayMs)
  const backAt = performance.now()
  const recoveredAt = new Array(n).fill(0)
  let notRecovered = 0
  await eachLimit(n, cfg.concurrency, async (i) => {
    const s = seen[i]
    const since = history ? { offset: s.last, epoch } : null
    const { client, data } = await join(proto, cfg.urls[i % cfg.urls.length], i, ch, s, since)
    subs[i] = client
    if (history && data.recovered !== true) notRecovered++
    // Recovered: answered, and the replay up to the answer's top has arrived.
    const top = typeof data.offset === 'number' ? data.offset : 0
    await until(() => s.last >= top, 30_000)
    recoveredAt[i] = performance.now()
  })
  // From the moment they start reconnecting (the away time is the scenario's, not the server's).
  const allRecoveredMs = Math.max(...recoveredAt) - backAt
  const publishedWhileAway = Math.round(((Math.max(...recoveredAt) - dropAt) * cfg.pubsPerSec) / 1000)
  mark('reconnect:end')

  // A little more live traffic, then stop and let everything arrive.
  await sleep(1000)
  clearInterval(timer)
  const final = seq
  await until(() => seen.every((s) => s.last >= final), 10_000)
  let lost = 0
  let dups = 0
  for (const s of seen) {
    lost += final - s.count
    dups += s.dups
  }
  publisher.close()
  for (const c of subs) c.close()
  return {
    subscribers: n,
    history,
    publications: final,
    // Published between the drop and the last subscriber's recovery.
    publishedWhileAway,
    handshakeRetries: retries.count - retriesBefore,
    seqAtDrop,
    allRecoveredMs: Math.round(allRecoveredMs),
    notRecovered,
    lost,
    duplicates: dups,
  }
}
