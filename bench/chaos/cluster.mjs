// What the chaos run starts and breaks: its own redis-server (AOF, fsync on every write), its own
// PostgreSQL database with the outbox of docs/postgres.md, and the service instances, each in its
// own process group so that a signal reaches a primary and its workers together.
/* global fetch, AbortSignal */
import { execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createWriteStream, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import pg from 'pg'
import { ROOT, freePort, rssBytes } from '../lib/servers.js'

const run = promisify(execFile)
const PG_ADMIN = process.env.PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

async function waitTcp(port, isAlive, ms = 90000) { // a boot beside other work took over 30 s at load 30
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (!isAlive()) throw new Error(`process died before listening on ${port}`)
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`)
      await res.arrayBuffer()
      return
    } catch {
      await sleep(100)
    }
  }
  throw new Error(`nothing answered on ${port} after ${ms} ms`)
}

/** One redis-server node: AOF fsynced on every write, in its own directory; restartable on its port. */
class RedisNode {
  constructor(dir, rec, extra = []) {
    this.dir = dir
    mkdirSync(this.dir, { recursive: true })
    this.rec = rec
    this.extra = extra
    this.proc = null
  }

  async start() {
    this.port ??= await freePort()
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', this.dir, ...this.extra]
    this.proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    const proc = this.proc
    await new Promise((resolve, reject) => {
      let out = ''
      proc.stdout.on('data', (d) => {
        out += d
        if (out.includes('Ready to accept connections')) resolve()
      })
      proc.once('exit', (code) => reject(new Error(`redis-server exited ${code}: ${out.slice(-500)}`)))
    })
    this.rec.log('redis.start', { port: this.port, pid: proc.pid })
  }

  signal(sig) {
    this.proc?.kill(sig)
  }

  async kill() {
    const p = this.proc
    if (p === null || p.exitCode !== null) return
    const gone = new Promise((r) => p.once('exit', r))
    p.kill('SIGCONT')
    p.kill('SIGKILL')
    await gone
    this.proc = null
  }
}

/** The run's Redis: one server. `nodes` is what faults pick from; `settings` the YAML block of the services. */
export class Redis {
  constructor(dir, rec) {
    this.nodes = [new RedisNode(join(dir, 'redis'), rec)]
  }

  async start() {
    await this.nodes[0].start()
  }

  get description() {
    return `redis ${this.nodes[0].port}`
  }

  settings() {
    return `redis:\n  url: redis://127.0.0.1:${this.nodes[0].port}\n`
  }

  async stop() {
    await Promise.all(this.nodes.map((n) => n.kill()))
  }
}

/**
 * A Redis Cluster: three masters and a replica each (cluster-node-timeout 1000 ms, so a killed
 * or stopped master fails over in about a second), built with `redis-cli --cluster create`.
 */
export class RedisCluster {
  constructor(dir, rec) {
    this.rec = rec
    this.nodes = Array.from({ length: 6 }, (_, i) => new RedisNode(join(dir, `redis-${i}`), rec, ['--cluster-enabled', 'yes', '--cluster-node-timeout', '1000', '--cluster-config-file', 'nodes.conf']))
  }

  async start() {
    await Promise.all(this.nodes.map((n) => n.start()))
    await run('redis-cli', ['--cluster', 'create', ...this.nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'])
    const end = Date.now() + 60000
    for (const n of this.nodes) {
      while (!(await run('redis-cli', ['-p', String(n.port), 'cluster', 'info'])).stdout.includes('cluster_state:ok')) {
        if (Date.now() > end) throw new Error('the Redis Cluster never reached cluster_state:ok')
        await sleep(200)
      }
    }
  }

  get description() {
    return `redis cluster ${this.nodes.map((n) => n.port).join(',')}`
  }

  settings() {
    return `redis:\n  cluster: [${this.nodes.map((n) => `"127.0.0.1:${n.port}"`).join(', ')}]\n`
  }

  async stop() {
    await Promise.all(this.nodes.map((n) => n.kill()))
  }
}

/** Its own database with the outbox, roomcast_emit and the tasks trigger exactly as docs/postgres.md ships them. */
export async function createOutboxDatabase() {
  const name = `roomcast_chaos_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: PG_ADMIN })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = Object.assign(new URL(PG_ADMIN), { pathname: `/${name}` }).href
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  const doc = readFileSync(join(ROOT, 'docs/postgres.md'), 'utf8')
  await c.query([...doc.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]).join('\n'))
  await c.end()
  return {
    name,
    url,
    async drop() {
      const a = new pg.Client({ connectionString: PG_ADMIN })
      await a.connect()
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await a.end()
    },
  }
}

/** Ends every connection to the database but the caller's own and `keep` (the publisher): the source's LISTEN connections. */
export async function terminateListeners(url, keep) {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    const r = await c.query(
      'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND NOT (pid = ANY($1::int[]))',
      [keep],
    )
    return r.rowCount
  } finally {
    await c.end()
  }
}

/** One instance of a service: `roomcast serve <service>` from the built CLI, restartable on its ports. */
export class Instance {
  constructor({ name, service, dir, settings, env, rec }) {
    this.name = name
    this.service = service
    this.dir = dir
    this.settingsText = settings
    this.env = env
    this.rec = rec
    this.proc = null
    this.injected = new Set() // pids we killed on purpose
    this.log = createWriteStream(join(dir, `${name}.log`), { flags: 'a' })
    this.reports = join(dir, `reports-${name}`)
    mkdirSync(this.reports, { recursive: true })
  }

  async start() {
    this.port ??= await freePort()
    this.mcpPort ??= await freePort()
    const file = join(this.dir, `${this.name}.yaml`)
    writeFileSync(file, this.settingsText.replace('{mcp_port}', String(this.mcpPort)))
    const proc = spawn(process.execPath, [join(ROOT, 'bin/roomcast.js'), 'serve', this.service, '--port', String(this.port), '--settings', file], {
      cwd: ROOT,
      detached: true, // its own process group: SIGSTOP/SIGKILL reach the primary and its workers
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        ...this.env,
        LOG_FORMAT: 'json',
        // Heap figures on demand: SIGUSR2 writes a diagnostic report (javascriptHeap, libuv handles).
        NODE_OPTIONS: `--report-on-signal --report-signal=SIGUSR2 --report-directory=${this.reports} --report-exclude-network --report-compact`,
      },
    })
    this.proc = proc
    proc.stdout.pipe(this.log, { end: false })
    proc.stderr.pipe(this.log, { end: false })
    proc.once('exit', (code, signal) => {
      const injected = this.injected.has(proc.pid)
      this.rec.log('instance.exit', { inst: this.name, pid: proc.pid, code, signal, injected })
      if (this.proc === proc) this.proc = null
    })
    this.rec.log('instance.start', { inst: this.name, pid: proc.pid, port: this.port })
    await waitTcp(this.port, () => proc.exitCode === null && proc.signalCode === null)
  }

  get alive() {
    return this.proc !== null
  }

  /** The primary and its workers. */
  pids() {
    if (this.proc === null) return []
    const out = [this.proc.pid]
    try {
      const kids = readFileSync(`/proc/${this.proc.pid}/task/${this.proc.pid}/children`, 'utf8').trim()
      if (kids) out.push(...kids.split(/\s+/).map(Number))
    } catch {
      // gone
    }
    return out
  }

  signalGroup(sig) {
    if (this.proc === null) return false
    try {
      process.kill(-this.proc.pid, sig)
      return true
    } catch {
      return false
    }
  }

  /** SIGKILL of the whole group (primary and workers); resolves once the primary is gone. */
  async kill() {
    const p = this.proc
    if (p === null) return
    for (const pid of this.pids()) this.injected.add(pid)
    const gone = new Promise((r) => p.once('exit', r))
    this.signalGroup('SIGCONT')
    this.signalGroup('SIGKILL')
    await gone
  }

  /** SIGKILL of one worker (the primary restarts it); returns its pid or null. */
  killWorker(random) {
    const workers = this.pids().slice(1)
    if (workers.length === 0) return null
    const pid = workers[Math.floor(random() * workers.length)]
    this.injected.add(pid)
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      return null
    }
    return pid
  }

  async stop() {
    const p = this.proc
    if (p === null) return
    const gone = new Promise((r) => p.once('exit', r))
    this.signalGroup('SIGCONT')
    p.kill('SIGTERM')
    const t = setTimeout(() => this.signalGroup('SIGKILL'), 15000)
    await gone
    clearTimeout(t)
    this.signalGroup('SIGKILL') // workers left behind, if any
  }

  /** Heap (from a diagnostic report) and RSS of each process of the instance. */
  async memory() {
    const pids = this.pids()
    for (const f of readdirSync(this.reports)) rmSync(join(this.reports, f), { force: true })
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGUSR2')
      } catch {
        // gone
      }
    }
    const out = []
    const end = Date.now() + 10000
    while (Date.now() < end) {
      const files = readdirSync(this.reports).filter((f) => f.endsWith('.json'))
      if (files.length >= pids.length) break
      await sleep(200)
    }
    for (const f of readdirSync(this.reports).filter((x) => x.endsWith('.json'))) {
      try {
        const r = JSON.parse(readFileSync(join(this.reports, f), 'utf8'))
        const pid = r.header.processId
        out.push({
          pid,
          heap_used: r.javascriptHeap.usedMemory,
          heap_total: r.javascriptHeap.totalMemory,
          rss: rssBytes(pid) ?? Number(r.resourceUsage.rss),
          tcp_handles: r.libuv.filter((h) => h.type === 'tcp' && h.is_active).length,
          timers: r.libuv.filter((h) => h.type === 'timer' && h.is_active).length,
        })
      } catch {
        // half-written report: skip this sample
      }
      rmSync(join(this.reports, f), { force: true })
    }
    return out
  }

  /** /stats of every process serving the port (workers answer in turn): instance_id → stats. */
  /**
   * The service's `/stats`: with workers, one answer holds the whole service (the sums) and a
   * `workers` array with each worker's own figures (docs/http.md), whichever worker answers.
   * Null when the instance does not answer (down or stopped).
   */
  async stats(tries = 3) {
    for (let i = 0; i < tries; i++) {
      try {
        const res = await fetch(`http://127.0.0.1:${this.port}/stats`, { signal: AbortSignal.timeout(5000) })
        return await res.json()
      } catch {
        // down or stopped
      }
    }
    return null
  }
}
