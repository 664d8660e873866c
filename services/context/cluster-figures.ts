import type { Cluster, Redis } from 'ioredis'
import { z } from 'zod'
import type { SharedState } from '../../src/server/worker-group.js'

/** What one instance contributes to the cluster's metric.update snapshot. */
export const InstanceFiguresSchema = z
  .object({
    v: z.literal(1),
    instance: z.string().min(1),
    connected_clients: z.number().int().nonnegative(),
    agents: z.array(z.string()).max(100_000),
    sessions: z.array(z.string()).max(100_000),
    pending_deliveries: z.number().int().nonnegative(),
    failed_deliveries: z.number().int().nonnegative(),
  })
  .strict()

export type InstanceFigures = z.output<typeof InstanceFiguresSchema>

/**
 * How instances of the service agree on one snapshot publisher and share their figures: in
 * memory (one instance, always the publisher), over Redis (a lock with expiry, and one key per
 * instance expiring on its own, so a dead instance drops out of the figures and the lock), or,
 * for workers without Redis, the same in their primary's shared state.
 */
export interface FiguresExchange {
  /** Shares this instance's figures; says whether this instance is the publisher now. */
  report(figures: InstanceFigures): Promise<boolean>
  /** Every live instance's figures (the publisher's view). */
  collect(): Promise<InstanceFigures[]>
  /** Gives up the publisher role and withdraws the figures (graceful shutdown). */
  leave(): Promise<void>
  /** Figures read back that were not valid (someone else wrote the key). */
  readonly malformed: number
}

export class MemoryFigures implements FiguresExchange {
  #mine: InstanceFigures | null = null
  readonly malformed = 0

  async report(figures: InstanceFigures): Promise<boolean> {
    this.#mine = figures
    return true
  }

  async collect(): Promise<InstanceFigures[]> {
    return this.#mine === null ? [] : [this.#mine]
  }

  async leave(): Promise<void> {
    this.#mine = null
  }
}

// Acquire or renew in one step: the holder extends its own lock; anyone else gets it only once it expired.
const HOLD = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0`
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`

/** Most instances whose figures the publisher reads. */
const MAX_INSTANCES = 1000

export interface RedisFiguresKeys {
  readonly lock: string
  readonly index: string
  figures(instanceId: string): string
}

export class RedisFigures implements FiguresExchange {
  readonly #redis: Redis | Cluster
  readonly #keys: RedisFiguresKeys
  readonly #owner: string
  readonly #ttlMs: number
  malformed = 0

  /** `ttlSeconds`: how long the lock and the figures outlive an instance that stopped reporting. */
  constructor(redis: Redis | Cluster, keys: RedisFiguresKeys, owner: string, ttlSeconds: number) {
    this.#redis = redis
    this.#keys = keys
    this.#owner = owner
    this.#ttlMs = Math.max(1, Math.round(ttlSeconds * 1000))
  }

  async report(figures: InstanceFigures): Promise<boolean> {
    const now = Date.now()
    const [, , , held] = (await this.#redis
      .multi()
      .set(this.#keys.figures(this.#owner), JSON.stringify(figures), 'PX', this.#ttlMs)
      .zadd(this.#keys.index, now, this.#owner)
      .zremrangebyscore(this.#keys.index, '-inf', now - this.#ttlMs)
      .eval(HOLD, 1, this.#keys.lock, this.#owner, this.#ttlMs)
      .exec()) ?? [null, null, null, null]
    if (held?.[0] != null) throw held[0]
    return held?.[1] === 1
  }

  async collect(): Promise<InstanceFigures[]> {
    const ids = await this.#redis.zrevrange(this.#keys.index, 0, MAX_INSTANCES - 1)
    if (ids.length === 0) return []
    const raws = await this.#redis.mget(ids.map((id) => this.#keys.figures(id)))
    const out: InstanceFigures[] = []
    for (const raw of raws) {
      if (raw === null) continue // expired between the two reads: that instance is gone
      const parsed = InstanceFiguresSchema.safeParse(safeJson(raw))
      if (parsed.success) out.push(parsed.data)
      else this.malformed++
    }
    return out
  }

  async leave(): Promise<void> {
    await this.#redis
      .multi()
      .eval(RELEASE, 1, this.#keys.lock, this.#owner)
      .del(this.#keys.figures(this.#owner))
      .zrem(this.#keys.index, this.#owner)
      .exec()
  }
}

function safeJson(raw: string): unknown {
  try {
    return JSON.parse(raw)
  } catch {
    return null
  }
}

/** The workers of one service without Redis: the lock and the figures in the primary, with the same expiries as on Redis. */
export class SharedFigures implements FiguresExchange {
  readonly #state: SharedState
  readonly #owner: string
  readonly #ttlMs: number
  malformed = 0

  constructor(state: SharedState, owner: string, ttlSeconds: number) {
    this.#state = state
    this.#owner = owner
    this.#ttlMs = Math.max(1, Math.round(ttlSeconds * 1000))
  }

  async report(figures: InstanceFigures): Promise<boolean> {
    const [, held] = await Promise.all([this.#state.put(`figures:${this.#owner}`, figures, this.#ttlMs), this.#state.hold('lock:metrics', this.#owner, this.#ttlMs)])
    return held
  }

  async collect(): Promise<InstanceFigures[]> {
    const out: InstanceFigures[] = []
    for (const raw of await this.#state.values('figures:')) {
      const parsed = InstanceFiguresSchema.safeParse(raw)
      if (parsed.success) out.push(parsed.data)
      else this.malformed++
    }
    return out.slice(0, MAX_INSTANCES)
  }

  async leave(): Promise<void> {
    await Promise.all([this.#state.release('lock:metrics', this.#owner), this.#state.del(`figures:${this.#owner}`)])
  }
}
