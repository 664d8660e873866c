// Runs one scenario against one server: starts the server (server core), starts the load
// generator (its own process on the other core), samples the server's CPU over the measured
// windows and its RSS while a storm's connections are held.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { cpuSeconds, hasTaskset, ROOT, rssBytes, slabBytes, startServer } from './servers.js'

const sum = (xs) => xs.reduce((a, b) => a + (b ?? 0), 0)

function startLoadgen(cpu) {
  const argv = [process.execPath, join(ROOT, 'bench', 'loadgen', 'main.js')]
  const [cmd, ...args] = hasTaskset && cpu !== null ? ['taskset', '-c', String(cpu), ...argv] : argv
  return spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
}

/** Runs `scenario` with `cfg` against a fresh server of `kind`; resolves with the result. */
export async function runOne(kind, scenario, cfg, cores, nodeFlags = []) {
  const server = await startServer(kind, { cpu: cores.server, nodeFlags })
  try {
    await sleep(300)
    const rssBase = sum(server.allPids.map(rssBytes))
    const slabBase = slabBytes()
    const lg = startLoadgen(cores.loadgen)
    const windows = {}
    const marks = {}
    const result = await new Promise((resolve, reject) => {
      lg.on('message', (msg) => {
        if (msg.type === 'mark') {
          const [label, edge] = msg.name.split(':')
          marks[`${label}:${edge}`] = { t: performance.now(), cpu: sum(server.allPids.map(cpuSeconds)) }
          if (edge === 'end') {
            const a = marks[`${label}:start`]
            const b = marks[`${label}:end`]
            windows[label] = { serverCpu: Math.round(((b.cpu - a.cpu) / ((b.t - a.t) / 1000)) * 1000) / 10 }
          }
        } else if (msg.type === 'holding') {
          // Let the server settle, then read its RSS with every connection held open.
          sleep(1000).then(() => {
            const rssHeld = sum(server.allPids.map(rssBytes))
            // Kernel slab growth covers both ends of every loopback connection: halve it.
            const slab = slabBytes()
            const kernelKB = slab !== null && slabBase !== null && msg.connected > 0 ? Math.round(((slab - slabBase) / 2 / msg.connected / 1024) * 100) / 100 : null
            windows.rss = { baseBytes: rssBase, heldBytes: rssHeld, perConnectionKB: msg.connected > 0 ? Math.round(((rssHeld - rssBase) / msg.connected / 1024) * 100) / 100 : null, kernelSlabKB: kernelKB }
            lg.send({ type: 'release' })
          })
        } else if (msg.type === 'result') {
          resolve(msg.result)
        } else if (msg.type === 'error') {
          reject(new Error(`load generator: ${msg.message}`))
        }
      })
      lg.once('exit', (code) => reject(new Error(`load generator exited with ${code} without a result`)))
      lg.send({ scenario, protocol: server.protocol, cfg: { ...cfg, ...(server.payloadBytes === undefined ? {} : { payloadBytes: server.payloadBytes }), urls: server.urls } })
    })
    const rssEnd = sum(server.allPids.map(rssBytes))
    for (const [label, w] of Object.entries(windows)) if (result[label] !== undefined) Object.assign(result[label], w)
    if (windows.rss !== undefined) result.rss = windows.rss
    if (windows.storm !== undefined) result.serverCpu = windows.storm.serverCpu
    if (windows.rtt !== undefined) result.serverCpu = windows.rtt.serverCpu
    if (windows.reconnect !== undefined) result.serverCpu = windows.reconnect.serverCpu
    if (windows.abuse !== undefined) result.serverCpu = windows.abuse.serverCpu
    result.serverRssEndMB = Math.round(rssEnd / 1024 / 102.4) / 10
    return result
  } finally {
    await server.stop()
  }
}
