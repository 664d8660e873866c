import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { untilReady } from './redis.js'
import { freePort, pollUntil } from './supervisor.js'

const run = promisify(execFile)

/** Safety bound of a cluster's own waits (creation measured ~3 s, a failover ~2 s with node-timeout 1000): ≥10×. */
const SAFETY_MS = 60_000

/** One redis-server of the test cluster. */
export interface ClusterProcess {
  readonly port: number
  proc: ChildProcess
  /** The redis-server arguments, to start it again on the same port with the same cluster config. */
  readonly args: readonly string[]
}

/** redis-cli against one node; resolves with its output. */
export async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args])
  return stdout
}

/**
 * A real Redis Cluster for tests: three masters and one replica each, on free ports, in a
 * temporary directory (cluster config files, no persistence), built with `redis-cli --cluster
 * create`; ready once every node says `cluster_state:ok`. A node can be SIGKILLed (its replica
 * is promoted after `cluster-node-timeout`, 1000 ms here) and slots migrated by hand.
 */
export class TestRedisCluster {
  readonly #dir = mkdtempSync(join(tmpdir(), 'roomcast-rcluster-'))
  readonly nodes: ClusterProcess[] = []

  static async start(): Promise<TestRedisCluster> {
    const c = new TestRedisCluster()
    try {
      for (let i = 0; i < 6; i++) c.nodes.push(await c.#spawn(i))
      await run('redis-cli', ['--cluster', 'create', ...c.nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'])
      await c.settled()
    } catch (err) {
      await c.stop()
      throw err
    }
    return c
  }

  /** One cluster-enabled node that belongs to no cluster: every slot unassigned until `assign`. */
  static async startLone(): Promise<TestRedisCluster> {
    const c = new TestRedisCluster()
    c.nodes.push(await c.#spawn(0))
    return c
  }

  /** Gives slots `from`…`to` to the first node (CLUSTER ADDSLOTSRANGE). */
  async assign(from: number, to: number): Promise<void> {
    const first = this.nodes[0]
    if (first === undefined) throw new Error('no node')
    await cli(first.port, 'cluster', 'addslotsrange', String(from), String(to))
  }

  /** `host:port` of every node. */
  get addresses(): string[] {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`)
  }

  /**
   * Waits until every live node reports `cluster_state:ok`, every replica's link to its master is
   * up (a replica still in its first sync cannot be promoted), and every live node's `CLUSTER
   * NODES` lists each live node in the role that node gives itself, each master with slots. A
   * node's own role changes at once (CLUSTER REPLICATE, a failover); the others hear of it by
   * gossip, later: before that, a client reading the slot map from them may take a replica for a
   * master.
   */
  async settled(): Promise<void> {
    await pollUntil(
      'cluster_state:ok, every replica in sync, every node agreeing on the roles',
      async () => {
        const own = new Map<number, 'master' | 'slave'>()
        for (const n of this.#live()) {
          if (!(await cli(n.port, 'cluster', 'info')).includes('cluster_state:ok')) return undefined
          const repl = await cli(n.port, 'info', 'replication')
          if (repl.includes('role:slave') && !repl.includes('master_link_status:up')) return undefined
          own.set(n.port, repl.includes('role:slave') ? 'slave' : 'master')
        }
        for (const n of this.#live()) {
          for (const line of (await cli(n.port, 'cluster', 'nodes')).trim().split('\n')) {
            const [, addr = '', flags = '', , , , , , ...slots] = line.trim().split(' ')
            const role = own.get(Number(/:(\d+)/.exec(addr)?.[1]))
            if (role === undefined) continue
            if (!flags.split(',').includes(role)) return undefined
            if (role === 'master' && !slots.some((r) => /^\d/.test(r))) return undefined
          }
        }
        return true
      },
      { timeoutMs: SAFETY_MS, everyMs: 100 },
    )
  }

  /** The port of the master serving `slot`, as a live node sees it. */
  async masterOf(slot: number): Promise<number> {
    const live = this.#live()[0]
    if (live === undefined) throw new Error('no live node')
    const redis = new Redis({ host: '127.0.0.1', port: live.port, lazyConnect: true, retryStrategy: () => null })
    try {
      await redis.connect()
      const ranges = (await redis.call('cluster', 'slots')) as [number, number, [string, number, string]][]
      const range = ranges.find(([from, to]) => slot >= from && slot <= to)
      if (range === undefined) throw new Error(`no master for slot ${slot}`)
      return range[2][1]
    } finally {
      redis.disconnect()
    }
  }

  /** Waits until a replica has taken over `slot` from the master on `port` (after killing it). */
  async promotedFrom(port: number, slot: number): Promise<number> {
    return pollUntil(`a new master for slot ${slot}`, async () => {
      const m = await this.masterOf(slot)
      return m === port ? undefined : m
    }, { timeoutMs: SAFETY_MS, everyMs: 100 })
  }

  /** The hash slot of `key` (CLUSTER KEYSLOT on a live node). */
  async slotOf(key: string): Promise<number> {
    const live = this.#live()[0]
    if (live === undefined) throw new Error('no live node')
    return Number((await cli(live.port, 'cluster', 'keyslot', key)).trim())
  }

  /** The port of a live replica of the master on `port`, or null when it has none. */
  async replicaOf(port: number): Promise<number | null> {
    const repl = await cli(port, 'info', 'replication')
    for (const m of repl.matchAll(/^slave\d+:.*port=(\d+)/gm)) {
      const replica = Number(m[1])
      if (this.#live().some((n) => n.port === replica)) return replica
    }
    return null
  }

  /** The node id of the server on `port`. */
  async idOf(port: number): Promise<string> {
    return (await cli(port, 'cluster', 'myid')).trim()
  }

  /** SIGKILLs the node on `port` (a crash) and waits for it to be gone. */
  async kill(port: number): Promise<void> {
    const node = this.nodes.find((n) => n.port === port)
    if (node === undefined || node.proc.exitCode !== null || node.proc.signalCode !== null) return
    const exited = once(node.proc, 'exit')
    node.proc.kill('SIGKILL')
    await exited
  }

  /**
   * Starts the node on `port` again (after `kill`), same port and cluster config file, empty (no
   * persistence): it rejoins the cluster in its role.
   */
  async restart(port: number): Promise<void> {
    const node = this.nodes.find((n) => n.port === port)
    if (node === undefined) throw new Error(`no node on ${port}`)
    if (node.proc.exitCode === null && node.proc.signalCode === null) throw new Error(`node ${port} is running`)
    node.proc = spawn('redis-server', node.args, { stdio: ['ignore', 'pipe', 'pipe'] })
    await untilReady(node.proc)
  }

  /** Stops every node and removes the directory. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.kill(n.port)))
    rmSync(this.#dir, { recursive: true, force: true })
  }

  #live(): ClusterProcess[] {
    return this.nodes.filter((n) => n.proc.exitCode === null && n.proc.signalCode === null)
  }

  async #spawn(i: number): Promise<ClusterProcess> {
    const port = await freePort()
    const bus = await freePort()
    const args = ['--port', String(port), '--cluster-port', String(bus), '--bind', '127.0.0.1', '--cluster-enabled', 'yes']
    args.push('--cluster-config-file', join(this.#dir, `nodes-${i}.conf`), '--cluster-node-timeout', '1000', '--dir', this.#dir)
    args.push('--save', '', '--appendonly', 'no', '--cluster-allow-replica-migration', 'no')
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    await untilReady(proc)
    return { port, proc, args }
  }
}
