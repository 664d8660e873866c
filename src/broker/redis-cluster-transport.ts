import type { Cluster } from 'ioredis'
import type { Logger } from 'pino'
import { type BrokerTopology } from './broker.js'
import { type ClusterNode, checkCluster, type NodesView, nodesView } from './redis-cluster-check.js'
import { type RedisClusterNames, redisClusterNames } from './redis-channels.js'
import { openRedisCluster, type RedisTimings } from './redis-connection.js'
import { CLOSE_WAIT_MS, settledWithin } from './outstanding-writes.js'
import type { Transport, TransportEvents } from './transport.js'

export interface RedisClusterTransportOptions extends RedisTimings {
  /** Start nodes; any reachable master or replica of the cluster will do. */
  readonly nodes: readonly ClusterNode[]
  /** The settings key the nodes came from, named in boot errors. @default 'redis.cluster' */
  readonly source?: string
  /** Prefix of every Redis name. @default 'roomcast:' */
  readonly prefix?: string
  /** How often the slot map is re-read, so subscriptions follow a slot that moved without traffic. @default 2000 ms */
  readonly slotsRefreshMs?: number
  readonly logger?: Logger
}

const SLOTS = 16384

/**
 * Redis Cluster sharded pub/sub: rooms go out with SPUBLISH on their bucket's channel and are
 * heard with SSUBSCRIBE, so a room's traffic loads only the shard owning its bucket's slot;
 * instance traffic shares one fixed hash tag (redis-channels.ts). Several rooms share a bucket:
 * a bucket is subscribed with its first room and dropped with its last. One ioredis `Cluster` publishes and runs the history scripts;
 * its sharded subscriber group holds one connection per master and moves a channel's
 * subscription when its slot changes hands (MOVED, a failover, a slot migration, or the
 * periodic slot refresh). The protocol is RESP3, pinned in redis-connection.ts.
 */
export class RedisClusterTransport implements Transport {
  readonly kind = 'redis-cluster'
  readonly standalone = false
  readonly #opts: RedisClusterTransportOptions
  #cluster: Cluster | null = null
  #names: RedisClusterNames | null = null
  /** Rooms per subscribed bucket channel: a bucket is dropped with its last room. */
  #rooms = new Map<string, number>()
  /** A bucket's SSUBSCRIBE until Redis answers it: a second room of the bucket waits for it too. */
  #subscribing = new Map<string, Promise<void>>()
  #lastError: string | null = null
  /** What a master last answered to CLUSTER NODES (failed nodes left out), re-read every slotsRefreshMs. */
  #view: NodesView | null = null
  #viewTimer: NodeJS.Timeout | null = null
  #viewing = false
  /** Bumped on every connect and every loss: a sharded subscribe retried for an older one gives up. */
  #generation = 0

  constructor(opts: RedisClusterTransportOptions) {
    this.#opts = opts
  }

  get ready(): boolean {
    return this.#cluster?.status === 'ready'
  }

  get address(): string {
    return this.#opts.nodes.map((n) => `${n.host}:${n.port}`).join(',')
  }

  get lastError(): string | null {
    return this.#lastError
  }

  /** The cluster connection the history store shares (null before open). */
  get connection(): Cluster | null {
    return this.#cluster
  }

  get names(): RedisClusterNames | null {
    return this.#names
  }

  /**
   * The cluster as a master last described it (CLUSTER NODES, every slotsRefreshMs): masters and
   * replicas not marked failed, the slots their masters serve, `ok` when every slot has a live
   * master and `fail` when some has none (a master lost with its replicas); else the connection's
   * status. Before the first answer, ioredis's slot map.
   */
  topology(): BrokerTopology {
    const cluster = this.#cluster
    if (cluster === null) return { state: 'closed', masters: 0, replicas: 0, slotsServed: 0 }
    const view = this.#view ?? this.#slotMap(cluster)
    const state = cluster.status !== 'ready' ? cluster.status : view.slotsServed === SLOTS ? 'ok' : 'fail'
    return { state, ...view }
  }

  /** ioredis's slot map: per slot, the master's `host:port` then its replicas'. */
  #slotMap(cluster: Cluster): NodesView {
    const slots = (cluster as unknown as { slots: (string[] | undefined)[] }).slots
    const masters = new Set<string>()
    const replicas = new Set<string>()
    let served = 0
    for (let s = 0; s < SLOTS; s++) {
      const [master, ...copies] = slots[s] ?? []
      if (master === undefined) continue
      served++
      masters.add(master)
      for (const r of copies) replicas.add(r)
    }
    return { masters: masters.size, replicas: replicas.size, slotsServed: served }
  }

  /** Asks the masters in turn for CLUSTER NODES; the first answer is the view. Logs when slots lose or regain their master. */
  async #readView(cluster: Cluster): Promise<void> {
    if (this.#viewing || cluster.status !== 'ready') return
    this.#viewing = true
    try {
      for (const node of cluster.nodes('master')) {
        // A node that hangs (not one that refuses) must not stall the view: bounded like a connect.
        const reply = await within(node.call('cluster', 'nodes'), this.#opts.connectTimeoutMs ?? 2000).catch(() => null)
        if (typeof reply !== 'string') continue
        const before = this.#view?.slotsServed ?? SLOTS
        this.#view = nodesView(reply)
        const after = this.#view.slotsServed
        if (before === SLOTS && after < SLOTS) this.#opts.logger?.warn({ slotsServed: after }, 'redis cluster: some slots have no master; history on them is refused until one is back')
        if (before < SLOTS && after === SLOTS) this.#opts.logger?.info('redis cluster: every slot has a master again')
        return
      }
    } finally {
      this.#viewing = false
    }
  }

  async open(service: string, name: string, events: TransportEvents): Promise<boolean> {
    const timings = this.#opts
    // A node list that is no cluster, or a cluster with slots unserved, is refused here (it throws).
    await checkCluster(this.#opts.nodes, this.#opts.source ?? 'redis.cluster', timings.connectTimeoutMs ?? 2000)
    this.#names = redisClusterNames(this.#opts.prefix ?? 'roomcast:', service)
    const cluster = (this.#cluster = openRedisCluster(this.#opts.nodes, name, timings, {
      shardedSubscribers: true,
      // Never batch SSUBSCRIBE/SUNSUBSCRIBE (ioredis 6.0 leaves them to auto-pipelining, unlike
      // SUBSCRIBE): a batch is sent where its first command goes, so ioredis's sharded-subscriber
      // group recorded one channel per batch, not the rest (a failover moved only that one to the
      // promoted replica), and a batch led by a SPUBLISH put its SSUBSCRIBEs on a command
      // connection, whose messages nobody hears. Issue 21; test/cluster/redis-cluster.test.ts.
      autoPipeliningIgnoredCommands: ['ssubscribe', 'sunsubscribe'],
      slotsRefreshInterval: this.#opts.slotsRefreshMs ?? 2000,
    }))
    cluster.on('error', (err: Error) => {
      this.#lastError = err.message
      this.#opts.logger?.debug({ err: err.message }, 'redis cluster error')
    })
    cluster.on('node error', (err: Error, node: string) => {
      this.#lastError = `${node}: ${err.message}`
    })
    cluster.on('close', () => {
      this.#generation++
      events.lost('send')
      events.lost('receive')
    })
    cluster.on('ready', () => {
      // The cluster layer subscribes everything again: count its rooms afresh.
      this.#generation++
      this.#rooms.clear()
      this.#subscribing.clear()
      events.sendReady()
      events.receiveReady()
    })
    cluster.on('smessage', (_channel: string, raw: string) => events.message(raw))
    this.#viewTimer = setInterval(() => void this.#readView(cluster), this.#opts.slotsRefreshMs ?? 2000)
    this.#viewTimer.unref()
    cluster.once('ready', () => void this.#readView(cluster))
    return cluster.connect().then(
      () => true,
      () => false,
    )
  }

  publish(channel: string, bytes: string): Promise<number> {
    if (this.#cluster === null || this.#names === null) return Promise.reject(new Error('redis cluster transport not open'))
    return this.#cluster.spublish(this.#names.channel(channel), bytes) as Promise<number>
  }

  subscribe(channels: readonly string[]): Promise<void> {
    const names = this.#names
    if (names === null) return Promise.reject(new Error('redis cluster transport not open'))
    return this.#subscribeNames(channels.map((c) => names.channel(c)))
  }

  subscribeEveryRoom(): Promise<void> {
    if (this.#names === null) return Promise.reject(new Error('redis cluster transport not open'))
    return this.#subscribeNames(this.#names.everyRoom)
  }

  /** Drops one count of every bucket: the buckets of rooms subscribed one by one stay. */
  async unsubscribeEveryRoom(): Promise<void> {
    const names = this.#names
    if (names === null) throw new Error('redis cluster transport not open')
    await Promise.all(names.everyRoom.map((name) => this.#unsubscribeName(name)))
  }

  async #subscribeNames(names: readonly string[]): Promise<void> {
    const cluster = this.#cluster
    if (cluster === null) throw new Error('redis cluster transport not open')
    const generation = this.#generation
    const waits: Promise<void>[] = []
    for (const name of names) {
      const count = this.#rooms.get(name) ?? 0
      this.#rooms.set(name, count + 1)
      if (count > 0) {
        // The bucket is heard already, or will be once its SSUBSCRIBE is answered.
        const pending = this.#subscribing.get(name)
        if (pending !== undefined) waits.push(pending)
        continue
      }
      // ioredis takes one slot per SSUBSCRIBE.
      const subscribing: Promise<void> = this.#ssubscribe(cluster, name, generation).finally(() => {
        if (this.#subscribing.get(name) === subscribing) this.#subscribing.delete(name)
      })
      this.#subscribing.set(name, subscribing)
      waits.push(subscribing)
    }
    await Promise.all(waits)
  }

  /**
   * One SSUBSCRIBE, tried again (backing off to retryMaxMs) for as long as the connection that
   * asked stays up and the channel is still wanted. The cluster stays `ready` while one master is
   * gone, so no reconnect will come to subscribe again: a slot whose master died is served by a
   * subscriber for the dead node (refused) or by none, until its replica is promoted and the
   * slot map re-read, and ioredis gives up on a command well before a loaded failover ends.
   */
  async #ssubscribe(cluster: Cluster, name: string, generation: number): Promise<void> {
    const current = () => generation === this.#generation && cluster.status === 'ready' && this.#rooms.has(name)
    for (let attempt = 0; ; attempt++) {
      try {
        await cluster.ssubscribe(name)
        return
      } catch (err) {
        if (!current()) throw err
        this.#lastError = (err as Error).message
        this.#opts.logger?.debug({ channel: name, err: (err as Error).message, attempt }, 'sharded subscribe failed; trying again')
      }
      await pause(Math.min(100 * 2 ** attempt, this.#opts.retryMaxMs ?? 1000))
      if (!current()) throw new Error(`sharded subscribe of ${name} abandoned: the connection or the room went away`)
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    if (this.#names === null) throw new Error('redis cluster transport not open')
    await this.#unsubscribeName(this.#names.channel(channel))
  }

  async #unsubscribeName(name: string): Promise<void> {
    const cluster = this.#cluster
    if (cluster === null) throw new Error('redis cluster transport not open')
    const count = this.#rooms.get(name) ?? 0
    if (count > 1) {
      this.#rooms.set(name, count - 1)
      return
    }
    this.#rooms.delete(name)
    await cluster.sunsubscribe(name)
  }

  async close(last: { readonly channel: string; readonly bytes: string } | null): Promise<void> {
    const cluster = this.#cluster
    if (cluster === null) return
    if (this.#viewTimer !== null) clearInterval(this.#viewTimer)
    // Bounded: a node that accepts and never answers (stopped) must not hang the stop; disconnect() then drops what is left.
    const goodbye = (async () => {
      if (cluster.status === 'ready' && last !== null) await this.publish(last.channel, last.bytes).catch(() => {})
      await cluster.quit().catch(() => {})
    })()
    await settledWithin(goodbye, CLOSE_WAIT_MS)
    cluster.disconnect()
  }
}

/** Resolves after `ms` (a timer that does not keep the process alive). */
function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref())
}

/** `promise`, or a rejection after `ms`. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
