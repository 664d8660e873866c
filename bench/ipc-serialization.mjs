#!/usr/bin/env node
// What one IPC send costs a worker and its primary with child_process `serialization: 'json'`
// (node's default, what roomcast uses) and `'advanced'` (the V8 serializer): a parent forks a
// child and sends it N sends of `--per` relayed publication messages (the shape ipc-hub.ts sends),
// in bursts of 200 per turn; the child parses each relayed message's bytes as the cluster layer
// does. Prints the CPU (user + system) per send of each side, measured by the process itself.
//   node bench/ipc-serialization.mjs [--sends N] [--per N] [--rounds N]
import { fork } from 'node:child_process'
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { sends: { type: 'string', default: '20000' }, per: { type: 'string', default: '1' }, rounds: { type: 'string', default: '2' }, child: { type: 'string' } } })
const N = Number(values.sends)
const per = Number(values.per)

if (values.child !== undefined) {
  let n = 0
  const base = process.cpuUsage()
  process.on('message', (m) => {
    if (m.start) return
    for (const x of m.roomcast_ipc) JSON.parse(x.bytes)
    if (++n === N) {
      const u = process.cpuUsage(base)
      process.send({ cpu: u.user + u.system })
    }
  })
  process.send({ ready: true })
} else {
  const pub = { v: 1, type: 'publication', origin: '6f1c2a9e-8d5b-4c3a-9e7f-1a2b3c4d5e6f', pub: { id: 'a3c4e5f6-1111-2222-3333-444455556666', channel: 'bench', event: 'tick', data: { seq: 12345, sent: 1765040000000, pad: 'x'.repeat(100) }, timestamp: new Date(0).toISOString() } }
  const bytes = JSON.stringify(pub)
  const one = async (mode) => {
    const c = fork(new URL(import.meta.url).pathname, ['--child', '', '--sends', String(N)], { serialization: mode })
    const said = (key) => new Promise((resolve) => c.on('message', (m) => key in m && resolve(m[key])))
    await said('ready')
    const cpu = said('cpu')
    const base = process.cpuUsage()
    let i = 0
    await new Promise((resolve) => {
      const burst = () => {
        for (let k = 0; k < 200 && i < N; k++, i++) c.send({ roomcast_ipc: Array.from({ length: per }, () => ({ v: 1, op: 'message', bytes })) })
        if (i < N) setImmediate(burst)
        else resolve()
      }
      burst()
    })
    const childCpu = await cpu
    const u = process.cpuUsage(base)
    c.kill()
    return { parent: (u.user + u.system) / N, child: childCpu / N }
  }
  console.log(`${N} sends of ${per} message(s) of ${bytes.length} bytes each`)
  for (let r = 0; r < Number(values.rounds); r++) {
    for (const mode of ['json', 'advanced']) {
      const { parent, child } = await one(mode)
      console.log(`round ${r + 1} ${mode.padEnd(8)} sender ${parent.toFixed(2)} µs/send, receiver ${child.toFixed(2)} µs/send`)
    }
  }
}
