// Tracks publishes in flight: how many deliveries each still expects, when it was sent, and
// per-subscriber order. Latencies are recorded only while `measuring` is on.
const MAX_SAMPLES = 4_000_000

export class Tracker {
  /**
   * With several publishers, `order: { publisherOf(seq), channelOf(seq) }` (small integers; channelOf 0 or 1): order
   * is checked per publisher and channel (`outOfOrder`, what a publisher is promised), and per
   * publisher across a subscriber's channels apart (`reorderedAcrossChannels`: not promised; on a
   * Redis Cluster two channels of one publisher travel through different shards).
   */
  constructor(order = null) {
    this.order = order
    this.reorderedAcrossChannels = 0
    this.seq = 0
    this.remaining = []
    this.sentAt = []
    this.inflight = 0
    this.outOfOrder = 0
    this.measuring = false
    this.delivered = 0
    this.samples = new Float64Array(MAX_SAMPLES)
    this.nSamples = 0
    this.onComplete = null
    this.lastProgress = 0
  }

  /** Registers the next publish; returns its sequence number. */
  next(expected, now) {
    const s = ++this.seq
    this.remaining[s] = expected
    this.sentAt[s] = now
    this.inflight++
    return s
  }

  delivery(client, seq, now) {
    if (this.order === null) {
      if (seq <= client.lastSeq) this.outOfOrder++
      else client.lastSeq = seq
    } else {
      const from = this.order.publisherOf(seq)
      // Keys: a publisher (≥ 0) and a publisher's channel (< 0).
      const lane = -1 - (from * 2 + this.order.channelOf(seq))
      client.lastSeqs ??= new Map()
      if (seq <= (client.lastSeqs.get(lane) ?? 0)) this.outOfOrder++
      else client.lastSeqs.set(lane, seq)
      if (seq <= (client.lastSeqs.get(from) ?? 0)) this.reorderedAcrossChannels++
      else client.lastSeqs.set(from, seq)
    }
    if (this.measuring) {
      this.delivered++
      if (this.nSamples < MAX_SAMPLES) this.samples[this.nSamples++] = now - this.sentAt[seq]
    }
    const r = --this.remaining[seq]
    if (r === 0) {
      this.inflight--
      this.lastProgress = now
      this.onComplete?.(seq)
    }
  }

  /** Deliveries still missing over every publish so far. */
  missing() {
    let n = 0
    for (let s = 1; s <= this.seq; s++) n += this.remaining[s] > 0 ? this.remaining[s] : 0
    return n
  }

  resetWindow() {
    this.delivered = 0
    this.nSamples = 0
  }

  /** p50/p99/max of the recorded latencies, in ms. */
  latency() {
    const a = this.samples.subarray(0, this.nSamples).sort()
    const at = (q) => (a.length === 0 ? null : round(a[Math.min(a.length - 1, Math.floor(q * a.length))]))
    return { p50: at(0.5), p99: at(0.99), max: a.length === 0 ? null : round(a[a.length - 1]), samples: a.length }
  }
}

function round(x) {
  return Math.round(x * 1000) / 1000
}
