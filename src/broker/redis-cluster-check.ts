import { ioredis } from './redis-connection.js'
import { SettingsError } from '../config/settings.js'

/** One node of a cluster's start list. */
export interface ClusterNode {
  readonly host: string
  readonly port: number
}

const SLOTS = 16384

/** `host:port` → a node; null when it is not that. */
export function parseNode(text: string): ClusterNode | null {
  const m = /^(\[[^\]]+\]|[^\s:/,]+):(\d{1,5})$/.exec(text.trim())
  if (m === null) return null
  const port = Number(m[2])
  if (port < 1 || port > 65535) return null
  return { host: (m[1] ?? '').replace(/^\[|\]$/g, ''), port }
}

/** The slots no master serves, as ranges (`0-5460`, `7000`), from a CLUSTER SLOTS reply. */
export function unassignedSlots(reply: unknown): string[] {
  const served = new Uint8Array(SLOTS)
  if (Array.isArray(reply)) {
    for (const range of reply) {
      if (!Array.isArray(range)) continue
      const [from, to] = range as unknown[]
      if (typeof from !== 'number' || typeof to !== 'number') continue
      for (let s = Math.max(0, from); s <= Math.min(SLOTS - 1, to); s++) served[s] = 1
    }
  }
  const ranges: string[] = []
  for (let s = 0; s < SLOTS; s++) {
    if (served[s] === 1) continue
    let end = s
    while (end + 1 < SLOTS && served[end + 1] === 0) end++
    ranges.push(end === s ? `${s}` : `${s}-${end}`)
    s = end
  }
  return ranges
}

/** The cluster as one node sees it in its CLUSTER NODES reply. */
export interface NodesView {
  /** Masters that serve slots and are not marked failed. */
  readonly masters: number
  /** Replicas not marked failed. */
  readonly replicas: number
  /** Slots whose master is not marked failed. */
  readonly slotsServed: number
}

/**
 * Reads a CLUSTER NODES reply (`<id> <addr> <flags> <master> <ping> <pong> <epoch> <link> <slot>…`
 * per line). A node whose flags say `fail` (the cluster agreed it is down, not a lone `fail?`
 * suspicion) serves nothing; slots being migrated (`[…]`) count with their owner.
 */
export function nodesView(reply: string): NodesView {
  let masters = 0
  let replicas = 0
  let served = 0
  for (const line of reply.split('\n')) {
    const fields = line.trim().split(' ')
    if (fields.length < 8) continue
    const flags = (fields[2] ?? '').split(',')
    if (flags.includes('fail') || flags.includes('noaddr') || flags.includes('handshake')) continue
    if (flags.includes('slave')) {
      replicas++
      continue
    }
    let slots = 0
    for (const range of fields.slice(8)) {
      if (range.startsWith('[')) continue
      const [from, to] = range.split('-').map(Number)
      if (from === undefined || !Number.isInteger(from)) continue
      slots += (to !== undefined && Number.isInteger(to) ? to : from) - from + 1
    }
    if (slots > 0) masters++
    served += slots
  }
  return { masters, replicas, slotsServed: Math.min(served, SLOTS) }
}

/** What one node answered: its CLUSTER SLOTS reply, or why it could not. */
async function ask(node: ClusterNode, timeoutMs: number): Promise<{ slots: unknown } | { problem: string }> {
  const redis = new (ioredis().Redis)({
    host: node.host,
    port: node.port,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
  })
  redis.on('error', () => {})
  try {
    await redis.connect()
    return { slots: await redis.call('cluster', 'slots') }
  } catch (err) {
    const msg = (err as Error).message
    return { problem: /cluster support disabled/i.test(msg) ? 'a Redis without cluster mode (cluster-enabled no)' : msg }
  } finally {
    redis.disconnect()
  }
}

/**
 * Checks at boot that `nodes` (from the settings key `key`) reach a Redis Cluster whose every
 * slot has a master, within about `timeoutMs`. Throws a SettingsError naming the key
 * and what each node answered, or the unassigned slots: a wrong node list is a configuration
 * error, never a silent standalone run. A cluster whose nodes answer is enough: nodes that are
 * down while others answer are left to ioredis.
 */
export async function checkCluster(nodes: readonly ClusterNode[], key: string, timeoutMs: number): Promise<void> {
  const answers = await Promise.all(nodes.map((n) => ask(n, timeoutMs)))
  const found = answers.find((a): a is { slots: unknown } => 'slots' in a)
  if (found === undefined) {
    const why = answers.map((a, i) => `${nodes[i]?.host}:${nodes[i]?.port}: ${'problem' in a ? a.problem : ''}`)
    throw new SettingsError('redis cluster at boot', [`${key}: no Redis Cluster at ${why.join('; ')}`])
  }
  const missing = unassignedSlots(found.slots)
  if (missing.length > 0) {
    const shown = missing.length > 8 ? `${missing.slice(0, 8).join(', ')}, … (${missing.length} ranges)` : missing.join(', ')
    throw new SettingsError('redis cluster at boot', [`${key}: the Redis Cluster has slots no master serves: ${shown}`])
  }
}
