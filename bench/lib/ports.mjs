// Ports for servers a harness stops and starts again on the same port (a Redis restarted, an
// instance brought back): picked outside the kernel's ephemeral range
// (net.ipv4.ip_local_port_range, which serves connect()'s source ports and listen(0)), so while
// the server is down only another explicit pick can take its port, never one of the thousands of
// client connections a test run or a chaos run opens (a fresh-clone CI run failed on
// `bind: Address already in use` that way). Used by bench/lib/servers.js and the tests' helpers.
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'

/** [first, last] port to pick from, or null when the range outside the ephemeral one is too small. */
const PICK_RANGE = (() => {
  let low = 32768
  let high = 60999
  try {
    const [a, b] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
    if (a > 0 && b >= a) [low, high] = [a, b]
  } catch {
    // Not Linux: the usual range.
  }
  if (low - 1 - 10_000 >= 2_000) return [10_000, low - 1]
  if (65_535 - (high + 1) >= 2_000) return [high + 1, 65_535]
  return null
})()

/** A candidate port: random outside the ephemeral range, or 0 (the kernel's choice) when there is no room. */
export function candidatePort() {
  return PICK_RANGE === null ? 0 : PICK_RANGE[0] + Math.floor(Math.random() * (PICK_RANGE[1] - PICK_RANGE[0] + 1))
}

/** Binds `port` (0: any) on 127.0.0.1: the listening server, or null when the port is taken. */
export async function tryBind(port) {
  const srv = createServer()
  const ok = await new Promise((done) => {
    srv.once('error', () => done(false))
    srv.listen(port, '127.0.0.1', () => done(true))
  })
  return ok ? srv : null
}

/** A port that was free a moment ago (bound, then released), outside the ephemeral range. */
export async function freePort() {
  for (let tries = 0; tries < 100; tries++) {
    const srv = await tryBind(candidatePort())
    if (srv === null) continue
    const { port } = srv.address()
    await new Promise((done) => srv.close(done))
    return port
  }
  throw new Error('no free port found in 100 tries')
}
