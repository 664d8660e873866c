// CPU time (user+sys) of roomcast start-up: --help, status against a live service, serve until listening, a workers: 2 service.
// usage: node bench/cli-start.mjs <checkout dir> [rounds]  (docs/performance.md "CLI start-up CPU")
// usage: node measure.mjs <dir> [n]  -> medians of CPU ms (user+sys) for help, status, serve, serve workers:2
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir, loadavg } from 'node:os'
const dir = process.argv[2]; const N = Number(process.argv[3] ?? 10)
const bin = join(dir, 'bin/roomcast.js')
function cpuOf(pid) { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return { u: +f[11] * 10, s: +f[12] * 10, cu: +f[13] * 10, cs: +f[14] * 10 } }
function children(pid) { try { return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number) } catch { return [] } }
function timed(args, env = {}) {
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', process.execPath, bin, ...args], { env: { ...process.env, LOG_FORMAT: 'json', ...env }, encoding: 'utf8' })
  const line = r.stderr.trim().split('\n').pop(); const [u, s] = line.split(' ').map(Number)
  return { ms: (u + s) * 1000, code: r.status, out: r.stdout }
}
function serveUntil(args, re, env = {}) {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, [bin, ...args], { env: { ...process.env, LOG_FORMAT: 'json', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let buf = ''
    const on = (d) => { buf += d; if (re.test(buf)) { p.stdout.off('data', on); const c = cpuOf(p.pid); const kids = children(p.pid).map(cpuOf); const total = c.u + c.s + kids.reduce((a, k) => a + k.u + k.s, 0); res({ p, ms: c.u + c.s, total, buf }) } }
    p.stdout.on('data', on); p.stderr.on('data', (d) => { buf += d })
    p.on('exit', (c) => rej(new Error('exited ' + c + buf)))
  })
}
async function stop(p) { await new Promise((r) => { p.once('exit', r); p.kill('SIGTERM') }) }
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)] }
const res = { help: [], status: [], serve: [], primary2: [], total2: [] }
const tmp = mkdtempSync(join(tmpdir(), 'cs-'))
writeFileSync(join(tmp, 'w2.yaml'), 'workers: 2\n')
let PORT
const la0 = loadavg()[0]
let live
for (let t = 0; ; t++) { PORT = 20000 + Math.floor(Math.random() * 20000); try { live = await serveUntil(['serve', 'workflow', '--port', String(PORT)], /"msg":"listening"/); break } catch (e) { if (t > 5) throw e } }
const port = PORT
for (let i = 0; i < N; i++) {
  res.help.push(timed(['--help']).ms)
  const st = timed(['status', 'workflow', '--port', String(port)]); if (st.code !== 0) throw new Error('status ' + st.code + st.out); res.status.push(st.ms)
  const s = await serveUntil(['serve', 'workflow', '--port', '0'], /"msg":"listening"/); res.serve.push(s.ms); await stop(s.p)
  const w = await serveUntil(['serve', 'workflow', '--port', '0', '--settings', join(tmp, 'w2.yaml')], /every worker listening/); res.primary2.push(w.ms); res.total2.push(w.total); await stop(w.p)
}
await stop(live.p)
console.log(JSON.stringify({ dir, N, load: [la0, loadavg()[0]].map((x) => x.toFixed(1)), median_cpu_ms: Object.fromEntries(Object.entries(res).map(([k, v]) => [k, med(v)])), all: res }))
