#!/usr/bin/env node
// Summarises a V8 .cpuprofile (from node --cpu-prof): self time per function and per file,
// top N, so a profile can be read and quoted in docs/performance.md without DevTools.
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'

const [file, topArg] = process.argv.slice(2)
if (file === undefined) {
  console.error('Usage: node bench/profile-summary.js FILE.cpuprofile [TOP]')
  process.exit(2)
}
const top = Number(topArg ?? 25)
const profile = JSON.parse(readFileSync(file, 'utf8'))
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const self = new Map()
const dt = profile.timeDeltas
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i]
  self.set(id, (self.get(id) ?? 0) + (dt[i] ?? 0))
}
const total = [...self.values()].reduce((a, b) => a + b, 0)
const fnTime = new Map()
const fileTime = new Map()
for (const [id, t] of self) {
  const { callFrame: f } = byId.get(id)
  const where = f.url === '' ? '(native)' : relative(process.cwd(), f.url.replace('file://', ''))
  const fn = `${f.functionName || '(anonymous)'} ${where}:${f.lineNumber + 1}`
  fnTime.set(fn, (fnTime.get(fn) ?? 0) + t)
  const key = where.includes('node_modules/') ? where.split('node_modules/').pop().split('/').slice(0, where.includes('node_modules/@') ? 2 : 1).join('/') : where
  fileTime.set(key, (fileTime.get(key) ?? 0) + t)
}
const pct = (t) => `${((t / total) * 100).toFixed(1).padStart(5)}%`
const show = (title, m) => {
  console.log(`\n${title}`)
  for (const [k, t] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(t)}  ${k}`)
}
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`)
show('self time by function', fnTime)
show('self time by file or package', fileTime)
