// What dropping a peer costs the presence leader (src/broker/cluster-presence.ts): a peer that
// held N members of one presence channel leaves or stops answering, and every one of its members
// is reported gone (a leave event each on join/leave channels). The book's CPU for the drop, side
// by side in one run: this checkout's build and, with ROOMCAST_BEFORE_ROOT, another checkout's
// (e.g. main before a change), alternating, each size --rounds times.
//   npm run build && node bench/presence-drop.mjs [--sizes 1000,5000,10000,20000] [--rounds 3]
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { sizes: { type: 'string', default: '1000,5000,10000,20000' }, rounds: { type: 'string', default: '3' } } })
const sizes = values.sizes.split(',').map(Number)
const rounds = Number(values.rounds)
const ROOT = join(import.meta.dirname, '..')
const builds = { this: ROOT, ...(process.env.ROOMCAST_BEFORE_ROOT === undefined ? {} : { before: process.env.ROOMCAST_BEFORE_ROOT }) }
const books = {}
for (const [name, root] of Object.entries(builds)) books[name] = (await import(pathToFileURL(join(root, 'dist', 'src', 'broker', 'cluster-presence.js')).href)).ClusterPresence

/** CPU ms of one drop of a peer holding `n` members of one channel; checks every member was reported. */
function dropCost(ClusterPresence, n) {
  let gone = 0
  const events = { occupied() {}, vacated() {}, gone: (_channel, members) => (gone += members.length) }
  const book = new ClusterPresence({ selfId: () => 'a', clustered: () => true, send: () => {}, peers: () => ['b'], events: () => events, changed: () => {}, askAgainMs: 1000 })
  book.sync('b', 1, [['topics/big', n, Array.from({ length: n }, (_, i) => [`c${i}`, `u${i}`, null, 1_700_000_000_000 + i])]])
  const c0 = process.cpuUsage()
  book.drop('b')
  const cpu = process.cpuUsage(c0)
  if (gone !== n) throw new Error(`${n} members, ${gone} reported gone`)
  return (cpu.user + cpu.system) / 1000
}

console.log(`presence-drop: ${new Date().toISOString()}, node ${process.version}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`)
const out = {}
for (const n of sizes) for (let r = 0; r < rounds; r++) for (const name of Object.keys(books)) (out[`${n} ${name}`] ??= []).push(dropCost(books[name], n))
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
console.log(`| members of the dropped peer | ${Object.keys(books).map((b) => `CPU ms (${b})`).join(' | ')}${books.before ? ' | this ÷ before' : ''} |`)
console.log(`| --- | ${Object.keys(books).map(() => '---').join(' | ')}${books.before ? ' | ---' : ''} |`)
for (const n of sizes) {
  const m = Object.keys(books).map((b) => median(out[`${n} ${b}`]))
  console.log(`| ${n.toLocaleString('en-US')} | ${m.map((x) => x.toFixed(1)).join(' | ')}${books.before ? ` | ${(m[0] / m[1]).toFixed(3)}×` : ''} |`)
}
console.log(`load average at the end ${loadavg().map((x) => x.toFixed(2)).join(' ')}`)
