// The chaos run's history: one JSONL file per kind under the output directory, one object a line.
//   pubs.jsonl      every publication attempt and what the server answered
//   rx.jsonl        every event a client received (as its application saw it), and wire figures
//   log.jsonl       client states and subscribe answers, faults, instance starts and exits, samples
// With the Node clients spread over processes (bench/chaos/client-host.mjs), host i writes its
// clients' receipts and states to rx-<i>.jsonl and log-<i>.jsonl, and Python process i its
// receipts to rx-py-<i>.jsonl; every `t` is on the harness's clock (its t0, passed to them).
import { createWriteStream } from 'node:fs'
import { join } from 'node:path'

export class Recorder {
  /** `t0`: the harness's start (Date.now()) for a client host; `suffix`: `-<i>` in its file names (no pubs). */
  constructor(dir, { t0 = Date.now(), suffix = '' } = {}) {
    this.dir = dir
    const file = (k) => createWriteStream(join(dir, `${k}${suffix}.jsonl`))
    this.files = suffix === '' ? { pubs: file('pubs'), rx: file('rx'), log: file('log') } : { rx: file('rx'), log: file('log') }
    this.t0 = t0
  }

  /** Milliseconds since the run started: every record's `t`. */
  now() {
    return Date.now() - this.t0
  }

  pub(o) {
    this.files.pubs.write(JSON.stringify({ t: this.now(), ...o }) + '\n')
  }

  rx(o) {
    this.files.rx.write(JSON.stringify({ t: this.now(), ...o }) + '\n')
  }

  log(k, o = {}) {
    this.files.log.write(JSON.stringify({ t: this.now(), k, ...o }) + '\n')
  }

  async close() {
    await Promise.all(Object.values(this.files).map((f) => new Promise((r) => f.end(r))))
  }
}

/** A small seeded generator (mulberry32): the same seed gives the same fault schedule and traffic mix. */
export function seeded(seed) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  next.between = (lo, hi) => lo + next() * (hi - lo)
  next.int = (n) => Math.floor(next() * n)
  next.pick = (arr) => arr[Math.floor(next() * arr.length)]
  return next
}
