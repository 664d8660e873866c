// The abuse scenario: one victim's ping round trip while attackers send the heaviest frames a
// connection may send, each as often as the frame rate limit lets it (docs/performance.md).
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { Client } from './client.js'
import { Tracker } from './tracker.js'

/**
 * A request frame of about `bytes` bytes holding `keys` object keys, in small objects with keys
 * of their own: the shape JSON.parse is slowest on (a new hidden class per object). When the keys
 * run out first, a string pads the frame to `bytes`: the largest frame the key limit allows.
 */
export function heavyFrame(bytes, keys) {
  const head = '{"type":"request","event":"subscribe","data":{"d":['
  const tail = ']}}'
  const padHead = '],"p":"'
  const padTail = '"}}'
  const objects = []
  let size = head.length + tail.length
  let n = 0
  while (n < keys) {
    const fields = []
    for (let f = 0; f < 5 && n < keys; f++, n++) fields.push(`"${String.fromCharCode(97 + f)}${n.toString(36)}":0`)
    const obj = `{${fields.join(',')}}`
    if (size + obj.length + 1 > bytes) break
    objects.push(obj)
    size += obj.length + 1
  }
  const body = head + objects.join(',')
  const room = bytes - (body.length + padHead.length + padTail.length)
  if (n < keys || room <= 0) return { frame: Buffer.from(body + tail), keys: n }
  return { frame: Buffer.from(body + padHead + 'x'.repeat(room) + padTail), keys: n + 1 }
}

/**
 * `payload` as a client frame on the wire (text, final, masked with a fixed non-zero mask), built
 * once: an attacker masks nothing per send, so the load generator's own CPU (it also runs the
 * victim) is not what delays the victim, while the server still unmasks every byte.
 */
export function maskedFrame(payload) {
  const n = payload.length
  const len = n < 126 ? [n] : n < 65536 ? [126, n >> 8, n & 0xff] : [127, 0, 0, 0, 0, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]
  const mask = [0x37, 0xfa, 0x21, 0x3d]
  const head = Buffer.from([0x81, 0x80 | len[0], ...len.slice(1), ...mask])
  const body = Buffer.from(payload)
  for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3]
  return Buffer.concat([head, body])
}

/** Pings the victim's server one at a time, `gapMs` apart, until `until()` says stop; returns the round trips. */
async function pingLoop(victim, tracker, gapMs, until) {
  while (!until()) {
    const id = victim.nextId++
    const t0 = performance.now()
    await victim.call(`{"type":"ping","correlation_id":"p${id}"}`)
    tracker.samples[tracker.nSamples++] = performance.now() - t0
    await sleep(gapMs)
  }
  return tracker.latency()
}

/**
 * An attacker: opens with one frame at once, then one every `everyMs` while its socket keeps up;
 * counts what the server answers.
 */
function attack(client, frame, wire, everyMs) {
  const stats = { sent: 0, sentBytes: 0, skipped: 0, answers: {} }
  client.ws.on('message', (buf) => {
    const code = /"error_code":"([A-Z_]+)"/.exec(buf.toString('latin1', 0, 300))?.[1] ?? 'other'
    stats.answers[code] = (stats.answers[code] ?? 0) + 1
  })
  // The frame goes straight onto the TCP socket, already masked (ws would mask every copy again).
  const socket = client.ws._socket
  const send = () => {
    socket.write(wire)
    stats.sent++
    stats.sentBytes += frame.length
  }
  send()
  const timer = setInterval(() => {
    // A server that stopped reading this socket pushes back through TCP: do not queue without bound here.
    if (socket.writableLength > 2 * wire.length) {
      stats.skipped++
      return
    }
    send()
  }, everyMs)
  return { stats, stop: () => clearInterval(timer) }
}

/**
 * The victim pings alone (quiet), then while `attackers` connections each send a frame of
 * `frameBytes`/`frameKeys` every `attackEveryMs` (attack). The attack is measured from its first
 * byte: every attacker opens with a frame at once, when the victim's first attacked ping leaves,
 * so the frames that arrive before any budget is spent count too. Reports both latency
 * distributions and what the attackers got through.
 */
export async function abuse(proto, cfg, mark) {
  if (proto.path !== '/ws') throw new Error('the abuse scenario speaks roomcast only (--servers roomcast-limits)')
  const url = cfg.urls[0]
  const victim = await new Client(proto, 0).open(url)
  const attackers = []
  for (let i = 0; i < cfg.attackers; i++) attackers.push(await new Client(proto, i + 1).open(url))
  const { frame, keys } = heavyFrame(cfg.frameBytes, cfg.frameKeys)
  const wire = maskedFrame(frame)

  const quietEnd = performance.now() + cfg.measureMs / 2
  const quiet = await pingLoop(victim, new Tracker(), cfg.pingGapMs, () => performance.now() > quietEnd)

  mark('abuse:start')
  const cpu = process.cpuUsage()
  const t0 = performance.now()
  const runs = attackers.map((a) => attack(a, frame, wire, cfg.attackEveryMs))
  const before = runs.map(() => ({ sent: 0, sentBytes: 0, skipped: 0, answers: {} }))
  const attacked = await pingLoop(victim, new Tracker(), cfg.pingGapMs, () => performance.now() - t0 > cfg.measureMs)
  const wall = performance.now() - t0
  mark('abuse:end')
  const used = process.cpuUsage(cpu)
  const loadgenCpu = Math.round(((used.user + used.system) / 1000 / wall) * 1000) / 10
  for (const r of runs) r.stop()

  const perSec = (x) => Math.round((x / wall) * 1000)
  const answers = {}
  let sent = 0
  let sentBytes = 0
  let skipped = 0
  runs.forEach((r, i) => {
    sent += r.stats.sent - before[i].sent
    sentBytes += r.stats.sentBytes - before[i].sentBytes
    skipped += r.stats.skipped - before[i].skipped
    for (const [code, n] of Object.entries(r.stats.answers)) answers[code] = (answers[code] ?? 0) + n - (before[i].answers[code] ?? 0)
  })
  victim.close()
  for (const a of attackers) a.close()
  return {
    attackers: cfg.attackers,
    frameBytes: frame.length,
    frameKeys: keys,
    quiet,
    latencyMs: attacked,
    attackFramesPerSec: perSec(sent),
    attackBytesPerSec: perSec(sentBytes),
    attackSkippedPerSec: perSec(skipped),
    answersPerSec: Object.fromEntries(Object.entries(answers).map(([code, n]) => [code, perSec(n)])),
    loadgenCpu,
  }
}
