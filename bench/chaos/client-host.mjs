// The chaos run's Node clients, spread over processes (bench/chaos/run.mjs, --client-procs N):
// with 1,000 clients in the harness's own process its event loop ran 9–22 s late (p99), its
// clients missed the servers' pings (5 s to answer) and were cut by the hundreds with no fault.
// Each host holds a slice of every kind (flat agents, recovering clients, raw envelope clients,
// slow consumers, the socket publishers) and records their receipts and states itself, in
// rx-<i>.jsonl and log-<i>.jsonl, with `t` on the harness's clock (its t0). The harness asks over
// IPC for socket publishes (the client's answer), up/open counts, the host's event-loop delay,
// and, at the end, close (which answers with the recovering clients' wire figures).
//   child: node bench/chaos/client-host.mjs   (forked; `init` with its slice, then commands over IPC)
import { once } from 'node:events'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { ChildRpc, serveRpc } from './child-rpc.mjs'
import { Recorder, seeded } from './record.mjs'

export class ClientHost {
  /** `slice`: see `init` below; `rec`: the harness's recorder (exits are logged there). */
  constructor(slice, rec) {
    this.slice = slice
    this.index = slice.index
    this.rec = rec
    this.rpc = null
    this.closing = false
  }

  async init() {
    this.rpc = new ChildRpc(fileURLToPath(import.meta.url), [], {
      name: `client host ${this.index}`,
      onExit: (code, signal) => {
        if (!this.closing) this.rec.log('client-host.exit', { host: this.index, code, signal })
      },
    })
    return this.#call('init', this.slice)
  }

  #call(op, ...args) {
    if (this.rpc === null) return Promise.reject(new Error(`client host ${this.index} is not running`))
    return this.rpc.call(op, ...args)
  }

  /** Connects every client of the slice; resolves once each recovering client is subscribed. */
  start() {
    return this.#call('start')
  }

  /** A socket publish by the named client (`agent-i` or a publisher `rec-i`): its answer. */
  publish(client, channel, event, data) {
    return this.#call('publish', client, channel, event, data).catch((e) => ({ ok: null, code: 'HOST_GONE', msg: String(e.message).slice(0, 200) }))
  }

  /** Up/open counts by kind; with `lag`, the event-loop delay since the last such call (reset). */
  counts(lag = false) {
    return this.#call('counts', lag)
  }

  /** Closes every client, flushes the files; resolves with the recovering clients' wire figures. */
  async close() {
    this.closing = true
    const wire = await this.#call('close').catch(() => [])
    if (this.rpc !== null && this.rpc.running) await once(this.rpc.child, 'exit')
    return wire
  }
}

async function host() {
  // Imported here only: the harness's side needs none of it.
  const { FlatAgent, RawEnvelope, RecoveringClient } = await import('./clients.mjs')
  let rec = null
  const agents = []
  const recs = []
  const raws = [] // raw envelope clients and slow consumers
  const pubClients = []
  const byName = new Map()
  let closed = false
  const lag = monitorEventLoopDelay({ resolution: 20 })
  const ops = {
    init(s) {
      // s: { index, t0, seed, out, contextUrls, workflowUrls, topics, agents: [i], recovering: [{ i, ch }],
      //      raw: [{ name, ch }], slow: [{ name, channels }], publishers: [i] }
      rec = new Recorder(s.out, { t0: s.t0, suffix: `-${s.index}` })
      const random = seeded(s.seed)
      for (const i of s.agents) agents.push(new FlatAgent({ index: i, urls: s.contextUrls, rec, random, topics: s.topics }))
      for (const { i, ch } of s.recovering) recs.push(new RecoveringClient({ index: i, urls: s.workflowUrls, rec, random, channels: [ch] }))
      for (const { name, ch } of s.raw) raws.push(new RawEnvelope({ name, urls: s.workflowUrls, rec, random, channels: [ch] }))
      for (const { name, channels } of s.slow) raws.push(new RawEnvelope({ name, urls: s.workflowUrls, rec, random, channels, slow: true }))
      for (const i of s.publishers) pubClients.push(new RecoveringClient({ index: i, urls: s.workflowUrls, rec, random, channels: [] }))
      for (const c of [...agents, ...pubClients]) byName.set(c.name, c)
      lag.enable()
      rec.log('client-host', { host: s.index, pid: process.pid, seed: s.seed, agents: agents.length, recovering: recs.length, raw: s.raw.length, slow: s.slow.length, publishers: pubClients.length })
      return process.pid
    },
    async start() {
      for (const a of agents) a.start()
      for (const r of raws) r.start()
      for (let i = 0; i < recs.length; i += 20) await Promise.all(recs.slice(i, i + 20).map((c) => c.start()))
      await Promise.all(pubClients.map((c) => c.start()))
      return null
    },
    publish(client, channel, event, data) {
      const c = byName.get(client)
      if (c === undefined) throw new Error(`no client ${client} on this host`)
      return c.publish(channel, event, data)
    },
    counts(withLag) {
      const out = {
        agents: agents.filter((a) => a.up).length,
        recovering: recs.filter((c) => c.state === 'open').length,
        raw: raws.filter((r) => r.up).length,
        publishers: pubClients.filter((c) => c.state === 'open').length,
      }
      if (withLag) {
        out.lag = { p50_ms: Math.round(lag.percentile(50) / 1e6), p99_ms: Math.round(lag.percentile(99) / 1e6), max_ms: Math.round(lag.max / 1e6) }
        lag.reset()
        rec.log('host.lag', out.lag)
      }
      return out
    },
    async close() {
      for (const c of [...agents, ...recs, ...raws, ...pubClients]) c.close()
      lag.disable()
      const wire = recs.map((w) => ({ c: w.name, ...w.wire }))
      await rec.close()
      closed = true
      return wire
    },
  }
  serveRpc(ops, {
    answered: (op) => {
      if (op === 'close') process.disconnect()
    },
  })
  // The harness gone (its IPC channel closed), or closed us: nothing left to do.
  process.on('disconnect', () => {
    if (closed) process.exit(0)
    for (const c of [...agents, ...recs, ...raws, ...pubClients]) c.close()
    ;(rec?.close() ?? Promise.resolve()).finally(() => process.exit(0))
  })
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.send !== undefined) await host()
