import type { Cluster, Redis } from 'ioredis'
import { z } from 'zod'
import { BoundedMap } from '../../src/util/bounded-map.js'
import type { SharedState } from '../../src/server/worker-group.js'

/**
 * Where an agent's subscriptions wait for its next connection (docs/protocol.md B: "restores
 * the agent's subscriptions from its previous connection, on any instance"), for `restore_ttl`.
 */
export interface RestoreStore {
  readonly kind: 'memory' | 'redis' | 'primary'
  /** Remembers the agent's channels (replacing what was kept) for `ttlSeconds`. */
  save(agentId: string, channels: readonly string[]): Promise<void>
  /** The channels kept for the agent, or [] when none (never kept, expired, unreadable). */
  load(agentId: string): Promise<string[]>
}

/** What is kept per agent; crosses a process boundary on Redis, so it is versioned and parsed. */
const KeptSchema = z.object({ v: z.literal(1), channels: z.array(z.string().min(1).max(256)).max(1000) }).strict()

/** One process: a bounded map, least recently saved agent evicted first. */
export class MemoryRestoreStore implements RestoreStore {
  readonly kind = 'memory'
  readonly #kept: BoundedMap<string, { channels: readonly string[]; expires: number }>
  readonly #ttlMs: number
  readonly #maxChannels: number
  readonly #now: () => number

  constructor(options: { ttlSeconds: number; maxAgents: number; maxChannels: number }, now: () => number = Date.now) {
    this.#kept = new BoundedMap(options.maxAgents)
    this.#ttlMs = options.ttlSeconds * 1000
    this.#maxChannels = options.maxChannels
    this.#now = now
  }

  async save(agentId: string, channels: readonly string[]): Promise<void> {
    this.#kept.set(agentId, { channels: channels.slice(0, this.#maxChannels), expires: this.#now() + this.#ttlMs })
  }

  async load(agentId: string): Promise<string[]> {
    const kept = this.#kept.get(agentId)
    if (kept === undefined) return []
    if (kept.expires <= this.#now()) {
      this.#kept.delete(agentId)
      return []
    }
    return [...kept.channels]
  }
}

/** Every instance sharing Redis: one key per agent with the ttl as its expiry, so Redis bounds it. */
export class RedisRestoreStore implements RestoreStore {
  readonly kind = 'redis'
  readonly #redis: Redis | Cluster
  readonly #key: (agentId: string) => string
  readonly #ttlMs: number
  readonly #maxChannels: number
  /** Entries that were not valid JSON of the expected shape (someone else wrote the key). */
  malformed = 0

  constructor(redis: Redis | Cluster, key: (agentId: string) => string, options: { ttlSeconds: number; maxChannels: number }) {
    this.#redis = redis
    this.#key = key
    this.#ttlMs = Math.round(options.ttlSeconds * 1000)
    this.#maxChannels = options.maxChannels
  }

  async save(agentId: string, channels: readonly string[]): Promise<void> {
    const kept = JSON.stringify({ v: 1, channels: channels.slice(0, this.#maxChannels) })
    await this.#redis.set(this.#key(agentId), kept, 'PX', this.#ttlMs)
  }

  async load(agentId: string): Promise<string[]> {
    const raw = await this.#redis.get(this.#key(agentId))
    if (raw === null) return []
    let doc: unknown
    try {
      doc = JSON.parse(raw)
    } catch {
      doc = null
    }
    const kept = KeptSchema.safeParse(doc)
    if (!kept.success) {
      this.malformed++
      return []
    }
    return kept.data.channels
  }
}

/** The workers of one service without Redis: one entry per agent in the primary, expiring with the ttl. */
export class SharedRestoreStore implements RestoreStore {
  readonly kind = 'primary'
  readonly #state: SharedState
  readonly #ttlMs: number
  readonly #maxChannels: number
  malformed = 0

  constructor(state: SharedState, options: { ttlSeconds: number; maxChannels: number }) {
    this.#state = state
    this.#ttlMs = Math.round(options.ttlSeconds * 1000)
    this.#maxChannels = options.maxChannels
  }

  async save(agentId: string, channels: readonly string[]): Promise<void> {
    await this.#state.put(`restore:${agentId}`, { v: 1, channels: channels.slice(0, this.#maxChannels) }, this.#ttlMs)
  }

  async load(agentId: string): Promise<string[]> {
    const raw = await this.#state.get(`restore:${agentId}`)
    if (raw === null) return []
    const kept = KeptSchema.safeParse(raw)
    if (!kept.success) {
      this.malformed++
      return []
    }
    return kept.data.channels
  }
}
