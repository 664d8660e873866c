import type { Logger } from 'pino'
import { z } from 'zod'
import type { IpcPeer } from './ipc-hub.js'
import type { IpcLink } from './ipc-link.js'
import type { Adoption, PendingStore, PendingTiming, StoredEntry } from './pending-store.js'
import { BoundedMap } from '../util/bounded-map.js'
import { CLOSE_WAIT_MS, OutstandingWrites } from './outstanding-writes.js'

/**
 * The durable record of pending tracked deliveries for the workers of one service without Redis
 * (pending-store.ts; docs/protocol.md A.8): the primary keeps it (PrimaryPending), so a worker
 * that dies leaves its agents' pending events to the worker they reconnect to — same ids, attempts
 * kept, counted `adopted`. It dies with the primary, like the rest of the service.
 *
 * Ownership is as on Redis: the worker where an identity is connected owns its record, with a
 * lease renewed by its heartbeat; a worker that exits loses its leases at once (the primary sees
 * the exit), a hung one when its lease runs out.
 */
export class IpcPending implements PendingStore {
  readonly kind = 'primary'
  readonly durable = true
  readonly #link: IpcLink
  readonly #leaseMs: number
  readonly #log: Logger | undefined
  #self = ''
  #timing: PendingTiming = { keepMs: 60_000, maxPerIdentity: 1000 }
  #ops: WriteOp[] = []
  /** Frame texts of this turn's writes, once per event: the ops refer to them by id. */
  #frames: Record<string, string> = {}
  #flushing: NodeJS.Immediate | null = null
  /** How a publication goes out once its record is written (the worker's transport; IpcBroker sets it). */
  #publish: ((channel: string, bytes: string) => Promise<number>) | null = null
  /** Messages to the primary not answered yet: close() waits for them. */
  readonly #outstanding = new OutstandingWrites()
  /** Writes that could not reach the primary. */
  lostWrites = 0

  constructor(link: IpcLink, leaseMs: number, logger?: Logger) {
    this.#link = link
    this.#leaseMs = leaseMs
    this.#log = logger
  }

  open(self: string, timing: PendingTiming): void {
    this.#self = self
    this.#timing = timing
    this.renew()
  }

  put(identity: string, entry: StoredEntry): void {
    if (this.#self === '') return
    this.#frames[entry.id] = entry.text
    this.#queue([identity, entry.id, entry.event, entry.attempts, entry.order])
  }

  remove(identity: string, id: string): void {
    if (this.#self === '') return
    this.#queue([identity, id])
  }

  /** Publications recorded with publishRecorded go out through `publish` (the transport's). */
  publishVia(publish: (channel: string, bytes: string) => Promise<number>): void {
    this.#publish = publish
  }

  /**
   * A tracked event to a private channel: recorded in the primary for its owner, answered, and
   * only then published. The worker that delivers it records it too, but a turn later, after the
   * frame went out: a worker killed in between would lose the record of an event its client got
   * and did not ack (the publication, sent directly to that worker since the mesh, can reach it
   * before anything through the primary does). This turn's earlier operations go first. A record
   * that cannot be written is counted lost; the publication goes on.
   */
  async publishRecorded(identity: string, entry: StoredEntry, channel: string, bytes: string): Promise<number> {
    const publish = this.#publish
    if (publish === null) throw new Error('no transport to publish with')
    if (this.#self !== '') {
      this.#flush()
      const { keepMs, maxPerIdentity } = this.#timing
      const ops: WriteOp[] = [[identity, entry.id, entry.event, entry.attempts, entry.order]]
      const arg: PendingOp = { op: 'write', self: this.#self, keepMs, max: maxPerIdentity, frames: { [entry.id]: entry.text }, ops, publisher: true }
      await this.#link.ask({ op: 'call', name: PENDING_CALL, arg }).catch((err: unknown) => {
        this.lostWrites++
        this.#log?.debug({ err: (err as Error).message }, 'pending delivery not recorded in the primary')
      })
    }
    return publish(channel, bytes)
  }

  async adopt(identity: string): Promise<Adoption> {
    if (this.#self === '') return null
    // Removals queued so far go first: an event acknowledged before this point is not adopted.
    this.#flush()
    const reply = await this.#link.ask({ op: 'call', name: PENDING_CALL, arg: { op: 'adopt', self: this.#self, identity } })
    const parsed = AdoptionSchema.safeParse(reply)
    if (!parsed.success) throw new Error('the primary answered an adoption with something else')
    return parsed.data
  }

  release(identity: string): void {
    if (this.#self === '') return
    this.#flush()
    this.#send({ op: 'release', self: this.#self, identity })
  }

  renew(): void {
    if (this.#self === '') return
    this.#send({ op: 'renew', self: this.#self, leaseMs: this.#leaseMs })
  }

  /** Sends this turn's writes and the leave, and waits (a second at most) until the primary answered them and every earlier one. */
  async close(): Promise<void> {
    this.#flush()
    // Gone at once: the next worker an identity connects to adopts without waiting for the lease.
    if (this.#self !== '') this.#send({ op: 'leave', self: this.#self })
    await this.#outstanding.settled(CLOSE_WAIT_MS)
  }

  #queue(op: WriteOp): void {
    this.#ops.push(op)
    this.#flushing ??= setImmediate(() => this.#flush())
  }

  #flush(): void {
    if (this.#flushing !== null) clearImmediate(this.#flushing)
    this.#flushing = null
    if (this.#ops.length === 0) return
    const ops = this.#ops
    const frames = this.#frames
    this.#ops = []
    this.#frames = {}
    const { keepMs, maxPerIdentity } = this.#timing
    this.#send({ op: 'write', self: this.#self, keepMs, max: maxPerIdentity, frames, ops }, ops.length)
  }

  #send(arg: PendingOp, writes = 0): void {
    this.#outstanding.add(this.#link.ask({ op: 'call', name: PENDING_CALL, arg }), (err: unknown) => {
      this.lostWrites += writes
      this.#log?.debug({ err: (err as Error).message }, 'pending deliveries not recorded in the primary')
    })
  }
}

/** The name of the primary's `call` handler. */
export const PENDING_CALL = 'pending'

/** Most identities the primary keeps records for; past it the least recently written goes. */
const MAX_IDENTITIES = 100_000
/** Longest keep and lease a worker may ask for (a day). */
const MAX_MS = 24 * 3600 * 1000

const name = z.string().min(1).max(512)
const self = z.string().min(1).max(128)
/** [identity, id, event, attempts, order] records an event; [identity, id] removes it. */
const WriteOpSchema = z.union([
  z.tuple([name, name, z.string().min(1).max(512), z.number().int().positive(), z.number().int().nonnegative()]),
  z.tuple([name, name]),
])
type WriteOp = z.output<typeof WriteOpSchema>

const PendingOpSchema = z.discriminatedUnion('op', [
  z.object({
    op: z.literal('write'),
    self,
    keepMs: z.number().int().positive().max(MAX_MS),
    max: z.number().int().positive().max(1_000_000),
    frames: z.record(name, z.string()),
    ops: z.array(WriteOpSchema),
    // Written by a publisher for a private channel's owner before its publication goes out: the
    // record's owner stays whoever owns it (nobody for a new one), as the worker the recipient is
    // connected to takes it when it tracks the delivery.
    publisher: z.boolean().optional(),
  }),
  z.object({ op: z.literal('adopt'), self, identity: name }),
  z.object({ op: z.literal('release'), self, identity: name }),
  z.object({ op: z.literal('renew'), self, leaseMs: z.number().int().positive().max(MAX_MS) }),
  z.object({ op: z.literal('leave'), self }),
])
type PendingOp = z.input<typeof PendingOpSchema>

const StoredEntrySchema = z.object({
  id: z.string(),
  event: z.string(),
  text: z.string(),
  attempts: z.number().int().positive(),
  order: z.number(),
})
const AdoptionSchema = z.union([z.object({ entries: z.array(StoredEntrySchema) }), z.object({ wait: z.number().nonnegative() }), z.null()])

interface PendingRecord {
  owner: string
  expires: number
  readonly entries: Map<string, StoredEntry>
}

/** The primary's side: every worker's pending records, by identity, and the workers' leases. */
export class PrimaryPending {
  readonly #records = new BoundedMap<string, PendingRecord>(MAX_IDENTITIES)
  /** Lease expiry per worker instance id. */
  readonly #leases = new Map<string, number>()
  /** The instance ids each worker spoke as: its leases end when it exits. */
  readonly #selves = new Map<IpcPeer, Set<string>>()
  readonly #now: () => number
  #lastSweep = 0

  constructor(now: () => number = Date.now) {
    this.#now = now
  }

  /** Records kept now (for tests and /stats of the primary). */
  get identities(): number {
    return this.#records.size
  }

  /** Runs one checked operation from `from`; throws (the worker's request fails) on a malformed one. */
  apply(raw: unknown, from: IpcPeer): Adoption | null {
    const op = PendingOpSchema.parse(raw)
    const now = this.#now()
    let selves = this.#selves.get(from)
    if (selves === undefined) this.#selves.set(from, (selves = new Set()))
    selves.add(op.self)
    switch (op.op) {
      case 'write':
        this.#write(op, now)
        return null
      case 'adopt':
        return this.#adopt(op.identity, op.self, now)
      case 'release': {
        const rec = this.#live(op.identity, now)
        if (rec !== undefined && rec.owner === op.self) rec.owner = ''
        return null
      }
      case 'renew':
        this.#leases.set(op.self, now + op.leaseMs)
        this.#sweep(now)
        return null
      case 'leave':
        this.#leases.delete(op.self)
        return null
    }
  }

  /** A worker exited: its leases end now, so the workers its agents reconnect to adopt at once. */
  gone(peer: IpcPeer): void {
    for (const s of this.#selves.get(peer) ?? []) this.#leases.delete(s)
    this.#selves.delete(peer)
  }

  #write(op: Extract<z.output<typeof PendingOpSchema>, { op: 'write' }>, now: number): void {
    const touched = new Set<PendingRecord>()
    for (const w of op.ops) {
      const [identity, id] = w
      let rec = this.#live(identity, now)
      if (w.length === 2) {
        rec?.entries.delete(id)
        if (rec !== undefined) touched.add(rec)
        continue
      }
      const text = op.frames[id]
      if (text === undefined) continue
      const owner = op.publisher === true ? '' : op.self
      if (rec === undefined) this.#records.set(identity, (rec = { owner, expires: now + op.keepMs, entries: new Map() }))
      if (rec.owner === '') rec.owner = owner
      if (!rec.entries.has(id) && rec.entries.size >= op.max) continue
      rec.entries.set(id, { id, event: w[2], text, attempts: w[3], order: w[4] })
      touched.add(rec)
    }
    for (const rec of touched) rec.expires = now + op.keepMs
  }

  #adopt(identity: string, self: string, now: number): Adoption {
    const rec = this.#live(identity, now)
    if (rec === undefined) return { entries: [] }
    if (rec.owner !== '' && rec.owner !== self) {
      const lease = this.#leases.get(rec.owner)
      if (lease !== undefined && lease > now) return { wait: lease - now }
    }
    rec.owner = self
    // The events go out in the order they were first tracked.
    return { entries: [...rec.entries.values()].sort((a, b) => a.order - b.order) }
  }

  #live(identity: string, now: number): PendingRecord | undefined {
    const rec = this.#records.get(identity)
    if (rec === undefined) return undefined
    if (rec.expires > now) return rec
    this.#records.delete(identity)
    return undefined
  }

  /** Drops expired records, at most once every 5 s. */
  #sweep(now: number): void {
    if (now - this.#lastSweep < 5000) return
    this.#lastSweep = now
    for (const [identity, rec] of [...this.#records.entries()]) if (rec.expires <= now) this.#records.delete(identity)
    for (const [s, until] of [...this.#leases]) if (until <= now) this.#leases.delete(s)
  }
}
