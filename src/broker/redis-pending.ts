import type { Logger } from 'pino'
import type { Adoption, PendingStore, PendingTiming, StoredEntry } from './pending-store.js'
import { PENDING_ADOPT, PENDING_ADOPT_BY_EVENT, PENDING_PUBLISH_BY_EVENT, PENDING_RELEASE, PENDING_SPLIT_GONE, PENDING_WRITE, PENDING_WRITE_GROUPED } from './pending-scripts.js'
import type { RedisNames } from './redis-channels.js'
import type { ScriptRunner } from './redis-history.js'
import { CLOSE_WAIT_MS, OutstandingWrites } from './outstanding-writes.js'

/** Operations per write script: bounds the time Redis spends in one call. */
const MAX_BATCH = 500
/** Recipients per grouped write script (one Redis): bounds the time Redis spends in one call. */
const MAX_GROUPED = 2000
/**
 * One Redis: how often at most each identity written to has its where set renewed, and the
 * instance's index trimmed. Both are kept for the events' keep time plus two periods.
 */
const RENEW_PERIOD_MS = 5000
/**
 * One Redis: how long a turn's removals (acknowledgements) may wait for the next write's script
 * when the turn recorded nothing. A removal late by this much changes no guarantee: an instance
 * that dies meanwhile leaves the acknowledged event to be adopted and sent once more, as
 * at-least-once allows. Writes are never delayed: they go at the end of their turn.
 */
const REMOVAL_DELAY_MS = 5
/** One Redis: the work of one call splitting the index of an instance gone (PENDING_SPLIT_GONE): bounds the time Redis spends in one call. */
const SPLIT_WORK = 2000

export interface RedisPendingDeps {
  /** The publishing connection (shared with the transport and the history store), or null before it is open. */
  readonly connection: () => ScriptRunner | null
  readonly names: () => RedisNames | null
  /** How long an instance's lease lasts without a renewal: the cluster's instance expiry. */
  readonly leaseMs: number
  /** A Redis Cluster: a script touches one identity's keys only, and a recorded publish is two commands. */
  readonly sharded: boolean
  /** How the publish of a recorded event goes out: `spublish` on a Redis Cluster. */
  readonly publishCommand: 'publish' | 'spublish'
  /** How long a graceful stop waits for its last writes and the lease's deletion to be answered. @default 1000 ms */
  readonly closeTimeoutMs?: number
  readonly logger?: Logger
}

interface Op {
  readonly key: string
  readonly field: string
  /** '' removes the field. */
  readonly value: string
}

/** One Redis: the same write (or removal, value '') of one event for several identities, in the order they came. */
interface Group {
  /** The event id. */
  readonly field: string
  /** The attempts of a write, '' for a removal. */
  readonly value: string
  readonly attempts: number
  readonly order: number
  readonly identities: string[]
  /** Its identities' list when it is the last list sent for a write (or a removal): not built again. */
  listed?: string
  /** A removal followed by a write of its event in the same turn: the event's value stays when no one waits for it. */
  keepValue?: boolean
}

/** The identities of the last group sent (all in one list), the list, and for a write the period in which all of them were renewed. */
interface Listed {
  readonly identities: readonly string[]
  readonly list: string
  renewed: number
}

/**
 * The durable record of pending tracked deliveries on Redis (pending-store.ts, pending-scripts.ts).
 * Writes and removals are queued and sent once per turn of the event loop, in one script (on a
 * Redis Cluster one script per identity); a lost write (Redis away) is counted, the event stays
 * tracked in memory. On one Redis the record is kept per event (an event's recipients in one
 * set), on a Redis Cluster per identity (one hash each, in its own slot). Adoption reads the
 * owner, checks its lease, and takes the record over in one script that fails when another
 * instance took it meanwhile.
 */
export class RedisPending implements PendingStore {
  readonly kind = 'redis'
  readonly durable = true
  readonly #deps: RedisPendingDeps
  #self = ''
  #timing: PendingTiming = { keepMs: 60_000, maxPerIdentity: 1000 }
  #ops: Op[] = []
  /** One Redis: this turn's writes and removals, grouped per event; the latest group of each event id. */
  #groups: Group[] = []
  #latest = new Map<string, Group>()
  /** One Redis: the entry of the last put and its group, while that group is its event's latest of this turn. */
  #lastPut: StoredEntry | null = null
  #lastGroup: Group | null = null
  #grouped = 0
  /** The records renewed in the current period (RENEW_PERIOD_MS) of the clock. */
  readonly #renewed = new Set<string>()
  #period = 0
  /**
   * One Redis: the last write group's and removal group's identities and their list. A room's
   * fan-out writes each event for the same identities in the same order, turn after turn: their
   * list is sent again as it is, and while they were all renewed in this period they are not
   * looked up one by one.
   */
  #lastWrite: Listed | null = null
  #lastRemoval: Listed | null = null
  /** Frame texts of this turn's writes, once per event: the records refer to them. */
  #frames = new Map<string, string>()
  #flushing: NodeJS.Immediate | null = null
  /** One Redis: the flush of removals alone, REMOVAL_DELAY_MS after the first (a write's turn takes them along). */
  #removing: NodeJS.Timeout | null = null
  /** Scripts and commands sent and not answered yet: close() waits for them. */
  readonly #outstanding = new OutstandingWrites()
  /** Writes that could not reach Redis. */
  lostWrites = 0

  constructor(deps: RedisPendingDeps) {
    this.#deps = deps
  }

  open(self: string, timing: PendingTiming): void {
    this.#self = self
    this.#timing = timing
    this.renew()
  }

  put(identity: string, entry: StoredEntry): void {
    if (!this.#deps.sharded) {
      // The same entry as the last put's (Delivery shares one among an event's recipients), its
      // group still the event's latest: joined without a look-up.
      if (entry === this.#lastPut) return this.#join(this.#lastGroup as Group, identity)
      // One value per event for all its recipients of this turn (the same order and attempts).
      const g = this.#latest.get(entry.id)
      if (g !== undefined && g.value !== '' && g.attempts === entry.attempts && g.order === entry.order) this.#join(g, identity)
      else {
        this.#frames.set(entry.id, eventValue(entry))
        this.#group(entry.id, String(entry.attempts), entry.attempts, entry.order, identity)
      }
      this.#lastPut = entry
      this.#lastGroup = this.#latest.get(entry.id) as Group
      return
    }
    const names = this.#deps.names()
    if (names === null) return
    this.#frames.set(entry.id, entry.text)
    this.#queue({ key: names.pending(identity).entries, field: entry.id, value: encodeEntry(entry, false) })
  }

  remove(identity: string, id: string): void {
    if (!this.#deps.sharded) {
      const g = this.#latest.get(id)
      if (g !== undefined && g.value === '') this.#join(g, identity)
      else this.#group(id, '', 0, 0, identity)
      return
    }
    const names = this.#deps.names()
    if (names === null) return
    this.#queue({ key: names.pending(identity).entries, field: id, value: '' })
  }

  async adopt(identity: string): Promise<Adoption> {
    const redis = this.#ready()
    const names = this.#deps.names()
    if (redis === null || names === null || this.#self === '') return null
    const keys = names.pending(identity)
    const owner = (await redis.get(keys.owner)) ?? ''
    if (owner !== '' && owner !== this.#self) {
      const left = await redis.pttl(names.lease(owner))
      if (left > 0) return { wait: left }
    }
    // Removals queued so far go first: an event acknowledged before this point is not adopted.
    this.#flush()
    const { keepMs } = this.#timing
    const byEvent = this.#deps.sharded ? undefined : names.pendingByEvent
    const found: StoredEntry[] = []
    let unreadable = 0
    // A hash of one identity's entries: a Redis Cluster's record, or on one Redis one an earlier version wrote.
    let pairs: string[]
    if (byEvent === undefined) {
      const reply = (await redis.eval(PENDING_ADOPT, 2, keys.owner, keys.entries, this.#self, owner, keepMs)) as string[] | null
      // Another instance took it between the read and the script: look again soon.
      if (reply === null) return { wait: 100 }
      pairs = reply
    } else {
      // The indexes of the instances gone that recorded for it are split first, into the moved
      // sets of their identities: this adoption and the others of the same instance's identities
      // then look through their own events only.
      // (A where key of another type, left by something else, holds no instance.)
      const places = await redis.smembers(byEvent.where + identity).catch(() => [] as string[])
      for (const place of places) {
        if (place === this.#self) continue
        const split = [byEvent.index + place, names.lease(place), byEvent.to, byEvent.moved, keepMs + 2 * RENEW_PERIOD_MS]
        while (Number(await redis.eval(PENDING_SPLIT_GONE, 0, ...split, Date.now(), SPLIT_WORK)) > 0);
      }
      const where = [byEvent.where + identity, byEvent.inbox + identity, keys.entries]
      const args = [keys.owner, this.#self, owner, keepMs, keepMs + 2 * RENEW_PERIOD_MS, identity, byEvent.event, byEvent.to, byEvent.tries, byEvent.index, ...where, Date.now(), names.lease(''), byEvent.moved + identity]
      const reply = (await redis.eval(PENDING_ADOPT_BY_EVENT, 0, ...args)) as [string[], string[]] | null
      if (reply === null) return { wait: 100 }
      const [triples, legacy] = reply
      for (let i = 0; i + 2 < triples.length; i += 3) {
        const entry = decodeEvent(triples[i] as string, triples[i + 1] as string, triples[i + 2] as string)
        if (entry !== null && isFrameText(entry.text)) found.push(entry)
        else unreadable++
      }
      pairs = legacy
    }
    // The where sets were renewed by the script; on a Redis Cluster the record's expiry was set to the keep time.
    this.#renewed.delete(identity)
    if (this.#lastWrite !== null) this.#lastWrite.renewed = -1
    const decoded: StoredEntry[] = []
    for (let i = 0; i + 1 < pairs.length; i += 2) {
      // The record's own empty field (an earlier version's renewal), not an event.
      if (pairs[i] === '') continue
      const entry = decodeEntry(pairs[i] as string, pairs[i + 1] as string)
      if (entry !== null) decoded.push(entry)
      else unreadable++
    }
    // Records written with a reference: their frames, kept once per event (gone: the entry is skipped).
    const refs = decoded.filter((e) => e.text === '').map((e) => e.id)
    const texts = new Map<string, string | null>()
    if (refs.length > 0) {
      const got = this.#deps.sharded
        ? await Promise.all(refs.map((id) => redis.get(names.pendingFrame(id))))
        : await redis.mget(...refs.map((id) => names.pendingFrame(id)))
      refs.forEach((id, i) => texts.set(id, got[i] ?? null))
    }
    const entries = found
    const have = new Set(found.map((e) => e.id))
    let gone = 0
    for (const e of decoded) {
      const text = e.text === '' ? texts.get(e.id) : e.text
      if (typeof text !== 'string') gone++
      // Sent to the client as it is: only a JSON object, as every frame roomcast writes.
      else if (!isFrameText(text)) unreadable++
      else if (!have.has(e.id)) {
        const entry = { ...e, text }
        entries.push(entry)
        // An earlier version's record, deleted by the script: written again as this one keeps it.
        if (byEvent !== undefined) this.put(identity, entry)
      }
    }
    // Written by something other than roomcast (or corrupted): skipped, never sent; left to expire with the record.
    if (unreadable > 0) this.#deps.logger?.warn({ recipient: identity, unreadable, adopted: entries.length }, 'pending record: unreadable entries skipped')
    if (gone > 0) this.#deps.logger?.debug({ recipient: identity, gone }, 'pending record: entries whose frame expired skipped')
    // Neither a hash nor the indexes keep the events' order: they go out in the order they were first tracked.
    return { entries: entries.sort((x, y) => x.order - y.order) }
  }

  release(identity: string): void {
    const redis = this.#ready()
    const names = this.#deps.names()
    if (redis === null || names === null) return
    this.#outstanding.add(redis.eval(PENDING_RELEASE, 1, names.pending(identity).owner, this.#self), () => this.lostWrites++)
  }

  renew(): void {
    const redis = this.#ready()
    const names = this.#deps.names()
    if (redis === null || names === null || this.#self === '') return
    this.#outstanding.add(redis.set(names.lease(this.#self), '1', 'PX', this.#deps.leaseMs), () => this.lostWrites++)
  }

  async publishRecorded(identity: string, entry: StoredEntry, channel: string, bytes: string): Promise<number> {
    const redis = this.#ready()
    const names = this.#deps.names()
    if (redis === null || names === null) throw new Error('redis is not connected')
    const { keepMs, maxPerIdentity } = this.#timing
    const byEvent = this.#deps.sharded ? undefined : names.pendingByEvent
    if (byEvent !== undefined) {
      const at = [byEvent.to, byEvent.event, byEvent.inbox + identity, identity, Date.now()]
      const reply = await redis.eval(PENDING_PUBLISH_BY_EVENT, 0, entry.id, eventValue(entry), keepMs, keepMs + 2 * RENEW_PERIOD_MS, maxPerIdentity, ...at, names.channel(channel), bytes)
      return Number(reply)
    }
    // On a Redis Cluster the record and the room's channel live in different slots: two steps,
    // the record first and written before the publication goes out, so that an instance the
    // recipient connects to once the publish is answered finds it (its node may answer later
    // than the channel's). This turn's earlier operations go first, on the same connection. A
    // record that cannot be written is counted lost, as in a turn's batch; the publication goes on.
    this.#flush()
    await redis.eval(PENDING_WRITE, 1, names.pending(identity).entries, keepMs, 0, entry.id, encodeEntry(entry, true)).catch((err: unknown) => {
      this.lostWrites++
      this.#deps.logger?.debug({ err: (err as Error).message }, 'pending deliveries not recorded')
    })
    return (await redis.spublish(names.channel(channel), bytes)) as number
  }

  /**
   * Sends this turn's writes and deletes the lease, then waits (closeTimeoutMs at most) until
   * Redis answered them and every earlier write and release: the connection quits after this,
   * and ioredis drops what it has not sent by then (outstanding-writes.ts).
   */
  async close(): Promise<void> {
    this.#flush()
    const redis = this.#ready()
    const names = this.#deps.names()
    // Gone at once: the next instance an identity connects to adopts without waiting for the lease to run out.
    if (redis !== null && names !== null && this.#self !== '') this.#outstanding.add(redis.del(names.lease(this.#self)), () => {})
    await this.#outstanding.settled(this.#deps.closeTimeoutMs ?? CLOSE_WAIT_MS)
  }

  #ready(): ScriptRunner | null {
    const redis = this.#deps.connection()
    return redis !== null && redis.status === 'ready' ? redis : null
  }

  #queue(op: Op): void {
    this.#ops.push(op)
    this.#flushing ??= setImmediate(() => this.#flush())
  }

  /** A new group, after every earlier one of its event id (so the operations on one field keep their order). */
  #group(field: string, value: string, attempts: number, order: number, identity: string): void {
    const g: Group = { field, value, attempts, order, identities: [identity] }
    // A later group of the last put's event (e.g. its removal) is now that event's latest.
    this.#lastPut = null
    this.#groups.push(g)
    this.#latest.set(field, g)
    this.#grouped++
    if (this.#flushing !== null) return
    if (value !== '') {
      this.#flushing = setImmediate(() => this.#flush())
      return
    }
    this.#removing ??= setTimeout(() => this.#flush(), REMOVAL_DELAY_MS)
  }

  #join(g: Group, identity: string): void {
    g.identities.push(identity)
    this.#grouped++
  }

  /** One Redis: this turn's groups in as few scripts as MAX_GROUPED allows, the events' values in the first, before their recipients. */
  #flushGrouped(): void {
    const groups = this.#groups
    const frames = this.#frames
    const count = this.#grouped
    this.#groups = []
    this.#latest = new Map()
    this.#lastPut = null
    this.#lastGroup = null
    this.#frames = new Map()
    this.#grouped = 0
    const redis = this.#ready()
    const names = this.#deps.names()
    if (redis === null || names === null) {
      this.lostWrites += count
      return
    }
    const lost = (n: number) => (err: unknown) => {
      this.lostWrites += n
      this.#deps.logger?.debug({ err: (err as Error).message }, 'pending deliveries not recorded')
    }
    const byEvent = names.pendingByEvent
    if (byEvent === undefined) {
      this.lostWrites += count
      return
    }
    // Each identity written to has its where set renewed once per period, before its writes: it
    // then lasts at least the keep time after any write of the period (renewed at most one period
    // before, for the keep time plus two periods). The index is trimmed once per period.
    const now = Date.now()
    const period = Math.floor(now / RENEW_PERIOD_MS)
    const trim = period !== this.#period ? '1' : ''
    if (trim !== '') {
      this.#period = period
      this.#renewed.clear()
    }
    const { keepMs } = this.#timing
    const head = [keepMs, keepMs + 2 * RENEW_PERIOD_MS, byEvent.event, byEvent.to, byEvent.tries, byEvent.where, byEvent.index + this.#self, this.#self, now]
    // A removal that empties an event's recipients drops its value too, unless this turn writes the event again.
    const writtenLater = new Set<string>()
    for (let i = groups.length - 1; i >= 0; i--) {
      const g = groups[i] as Group
      if (g.value !== '') writtenLater.add(g.field)
      else if (writtenLater.has(g.field)) g.keepValue = true
    }
    const renew: string[] = []
    for (const g of groups) {
      const last = g.value === '' ? this.#lastRemoval : this.#lastWrite
      if (last !== null && sameIdentities(g.identities, last.identities)) {
        g.listed = last.list
        if (g.value === '' || last.renewed === period) continue
      }
      if (g.value === '') continue
      for (const identity of g.identities) {
        if (this.#renewed.has(identity)) continue
        this.#renewed.add(identity)
        renew.push(identity)
      }
    }
    // The operations of the script being built (after its values), and the events it writes.
    let ops: string[] = []
    let written = new Set<string>()
    if (renew.length > 0) ops.push('', '', identityList(renew))
    let first = true
    let inScript = 0
    // Every event's value goes in the first script, before its recipients. A later script of the
    // turn carries again the values of the events it writes: another instance's removal, run
    // between two scripts, deletes an event's value when it empties its recipients.
    const send = () => {
      const values = first ? [...frames] : [...written].map((id) => [id, frames.get(id) as string] as const)
      const args: (string | number)[] = [...head, first ? trim : '', values.length]
      for (const [id, value] of values) args.push(id, value)
      this.#outstanding.add(redis.eval(PENDING_WRITE_GROUPED, 0, ...args, ...ops), lost(inScript))
      first = false
      ops = []
      written = new Set()
      inScript = 0
    }
    for (const g of groups) {
      for (let from = 0; from < g.identities.length; ) {
        const n = Math.min(g.identities.length - from, MAX_GROUPED - inScript)
        ops.push(g.field, g.keepValue === true ? '-' : g.value, from === 0 && n === g.identities.length ? this.#listOf(g, period) : identityList(g.identities.slice(from, from + n)))
        if (g.value !== '') written.add(g.field)
        from += n
        inScript += n
        if (inScript >= MAX_GROUPED) send()
      }
    }
    if (inScript > 0 || (first && frames.size > 0)) send()
  }

  /** A group's identities as one list (sent whole): the last one's again, or built and kept as the last. */
  #listOf(g: Group, period: number): string {
    if (g.listed !== undefined) {
      // Renewed above when they were not all renewed in this period.
      if (g.value !== '' && this.#lastWrite !== null) this.#lastWrite.renewed = period
      return g.listed
    }
    const list = identityList(g.identities)
    if (g.value === '') this.#lastRemoval = { identities: g.identities, list, renewed: -1 }
    else this.#lastWrite = { identities: g.identities, list, renewed: period }
    return list
  }

  #flush(): void {
    if (this.#flushing !== null) clearImmediate(this.#flushing)
    this.#flushing = null
    if (this.#removing !== null) clearTimeout(this.#removing)
    this.#removing = null
    if (!this.#deps.sharded) return this.#flushGrouped()
    const ops = this.#ops
    if (ops.length === 0) return
    this.#ops = []
    const frames = this.#frames
    this.#frames = new Map()
    const redis = this.#ready()
    const names = this.#deps.names()
    if (redis === null || names === null) {
      this.lostWrites += ops.length
      return
    }
    const lost = (n: number) => (err: unknown) => {
      this.lostWrites += n
      this.#deps.logger?.debug({ err: (err as Error).message }, 'pending deliveries not recorded')
    }
    const keep = this.#timing.keepMs
    // On a Redis Cluster every frame key is its own slot: written before the records that refer to them.
    if (this.#deps.sharded) for (const [id, text] of frames) this.#outstanding.add(redis.set(names.pendingFrame(id), text, 'PX', keep), lost(0))
    let first = true
    for (const batch of this.#deps.sharded ? byKey(ops) : chunks(ops, MAX_BATCH)) {
      // One Redis: the frames go in the first script, before the records.
      const withFrames = first && !this.#deps.sharded ? [...frames] : []
      first = false
      const keys = [...withFrames.map(([id]) => names.pendingFrame(id)), ...batch.map((op) => op.key)]
      const args: (string | number)[] = [keep, withFrames.length, ...withFrames.map(([, text]) => text)]
      for (const op of batch) args.push(op.field, op.value)
      this.#outstanding.add(redis.eval(PENDING_WRITE, keys.length, ...keys, ...args), lost(batch.length))
    }
  }
}

/**
 * `<order> <attempts>\n<event>\n<text>`: no JSON escaping of the frame's text (event names hold
 * no newline). Without `inline` the text is left out: it is kept once under the frame key.
 */
function encodeEntry(entry: StoredEntry, inline: boolean): string {
  return `${entry.order} ${entry.attempts}\n${entry.event}\n${inline ? entry.text : ''}`
}

function decodeEntry(id: string, value: string): StoredEntry | null {
  const a = value.indexOf('\n')
  const b = a < 0 ? -1 : value.indexOf('\n', a + 1)
  if (b < 0) return null
  const [order, attempts] = value.slice(0, a).split(' ').map(Number)
  const event = value.slice(a + 1, b)
  const text = value.slice(b + 1)
  // An empty text refers to the frame key (adopt() reads it).
  if (!Number.isSafeInteger(order) || !Number.isInteger(attempts) || (attempts as number) < 1 || event === '' || text.length === 1) return null
  return { id, event, text, attempts: attempts as number, order: order as number }
}

/** One Redis: an event as kept once for all its recipients, `<order> <event>\n<text>` (event names hold no newline). */
function eventValue(entry: StoredEntry): string {
  return `${entry.order} ${entry.event}\n${entry.text}`
}

/** An event of the per-event record with one recipient's attempts, or null when it cannot be read. */
function decodeEvent(id: string, attempts: string, value: string): StoredEntry | null {
  const nl = value.indexOf('\n')
  const space = value.indexOf(' ')
  if (nl < 0 || space < 0 || space > nl) return null
  const order = Number(value.slice(0, space))
  const event = value.slice(space + 1, nl)
  const text = value.slice(nl + 1)
  const tries = Number(attempts)
  if (id === '' || !Number.isSafeInteger(order) || !Number.isInteger(tries) || tries < 1 || event === '' || text === '') return null
  return { id, event, text, attempts: tries, order }
}

/** Whether a recorded frame's text is a JSON object (what the delivery tracker wrote). */
function isFrameText(text: string): boolean {
  if (!text.startsWith('{') || !text.endsWith('}')) return false
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null && !Array.isArray(value)
  } catch {
    return false
  }
}

/** A lone surrogate, as JSON.stringify escapes it (`\\udXXX`, high or low half). */
const ESCAPED_SURROGATE = /\\ud[89a-f]/i

/**
 * Identities as the grouped script reads them: a JSON array. A lone surrogate (not valid UTF-16)
 * goes as U+FFFD, the character it becomes in every key Node sends; JSON.stringify would escape
 * it and cjson refuses the escape. (An identity holding the text `\\ud800` also matches: it then
 * goes through the same replacement, which leaves it as it is.)
 */
function identityList(identities: readonly string[]): string {
  const json = JSON.stringify(identities)
  return ESCAPED_SURROGATE.test(json) ? JSON.stringify(identities.map((i) => i.replace(/\p{Cs}/gu, '\ufffd'))) : json
}

/** Whether two groups name the same identities in the same order. */
function sameIdentities(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/** One batch per key, in order: a script on a Redis Cluster touches one slot. */
function byKey(ops: readonly Op[]): Op[][] {
  const groups = new Map<string, Op[]>()
  for (const op of ops) {
    const group = groups.get(op.key)
    if (group === undefined) groups.set(op.key, [op])
    else group.push(op)
  }
  return [...groups.values()]
}
