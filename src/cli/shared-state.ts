import { z } from 'zod'
import type { SharedState } from '../server/worker-group.js'
import { BoundedMap } from '../util/bounded-map.js'

/**
 * The primary's keys with an expiry (SharedState, src/server/worker-group.ts): one store for every
 * worker of the service, reached with `call` requests named `state` over the IPC channel. Bounded:
 * past MAX_KEYS the least recently written key goes.
 */
const MAX_KEYS = 100_000

const key = z.string().min(1).max(512)
const ttlMs = z.number().int().positive().max(30 * 24 * 3600 * 1000)
const owner = z.string().min(1).max(128)

/** A `state` call, as a worker sends it and the primary checks it. */
export const StateOpSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('put'), key, value: z.unknown(), ttlMs }),
  z.object({ op: z.literal('get'), key }),
  z.object({ op: z.literal('del'), key }),
  z.object({ op: z.literal('values'), prefix: z.string().max(512) }),
  z.object({ op: z.literal('hold'), key, owner, ttlMs }),
  z.object({ op: z.literal('release'), key, owner }),
])
export type StateOp = z.output<typeof StateOpSchema>

/** The store itself, in the primary. */
export class PrimaryState {
  readonly #keys = new BoundedMap<string, { value: unknown; expires: number }>(MAX_KEYS)
  readonly #now: () => number

  constructor(now: () => number = Date.now) {
    this.#now = now
  }

  /** Runs one checked operation; throws (the worker's request fails) on a malformed one. */
  apply(raw: unknown): unknown {
    const op = StateOpSchema.parse(raw)
    switch (op.op) {
      case 'put':
        this.#keys.set(op.key, { value: op.value, expires: this.#now() + op.ttlMs })
        return null
      case 'get':
        return this.#live(op.key) ?? null
      case 'del':
        this.#keys.delete(op.key)
        return null
      case 'values': {
        const out: unknown[] = []
        for (const [k] of [...this.#keys.entries()]) {
          if (!k.startsWith(op.prefix)) continue
          const value = this.#live(k)
          if (value !== undefined) out.push(value)
        }
        return out
      }
      case 'hold': {
        const holder = this.#live(op.key)
        if (holder !== undefined && holder !== op.owner) return false
        this.#keys.set(op.key, { value: op.owner, expires: this.#now() + op.ttlMs })
        return true
      }
      case 'release':
        if (this.#live(op.key) === op.owner) this.#keys.delete(op.key)
        return null
    }
  }

  #live(k: string): unknown {
    const entry = this.#keys.get(k)
    if (entry === undefined) return undefined
    if (entry.expires > this.#now()) return entry.value
    this.#keys.delete(k)
    return undefined
  }
}

/** A worker's SharedState: each operation one `state` call to the primary. */
export function sharedStateOver(call: (op: StateOp) => Promise<unknown>): SharedState {
  return {
    put: async (k, value, ms) => void (await call({ op: 'put', key: k, value, ttlMs: Math.max(1, Math.round(ms)) })),
    get: (k) => call({ op: 'get', key: k }),
    del: async (k) => void (await call({ op: 'del', key: k })),
    values: async (prefix) => {
      const out = await call({ op: 'values', prefix })
      return Array.isArray(out) ? out : []
    },
    hold: async (k, who, ms) => (await call({ op: 'hold', key: k, owner: who, ttlMs: Math.max(1, Math.round(ms)) })) === true,
    release: async (k, who) => void (await call({ op: 'release', key: k, owner: who })),
  }
}
