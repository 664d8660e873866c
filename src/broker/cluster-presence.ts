import type { PresenceChange, PresenceChannelWire, PresenceMemberWire } from './cluster-messages.js'
import { presenceAskMessage, presenceMessage, presenceSyncMessage } from './cluster-messages.js'

/** One connection in a channel's presence, wherever it lives. */
export interface PresenceMember {
  readonly connectionId: string
  /** The identity's user (envelope) or agent (flat) id; null for an anonymous connection. */
  readonly userId: string | null
  readonly sessionId: string | null
  /** When the connection was accepted (ms since the epoch). */
  readonly connectedAt: number
  /** The instance holding the connection. */
  readonly instance: string
}

/** A channel's figures across the cluster: connections, and distinct identified users among them. */
export interface PresenceStats {
  readonly clients: number
  readonly users: number
}

/** What the presence book tells the server; called on the presence leader only (one instance of the cluster). */
export interface PresenceEvents {
  /** A channel got its first subscriber anywhere in the cluster. */
  occupied(channel: string): void
  /** A channel lost its last subscriber anywhere in the cluster. */
  vacated(channel: string): void
  /** An instance went away (left or stopped answering): these members of a presence channel went with it. */
  gone(channel: string, members: readonly PresenceMember[]): void
}

/** What the cluster's channels look like to everyone: subscribers per channel, members per presence channel. */
export interface PresenceBook {
  /** A local connection joined `channel`; `member` null: the channel keeps no presence, it is only counted. */
  join(channel: string, member: PresenceMember | null): void
  /** A local connection left `channel` (`connectionId` null on a channel that is only counted). */
  leave(channel: string, connectionId: string | null): void
  /** The members of a presence channel on every live instance, ordered by connectedAt, then connectionId (code points). */
  members(channel: string): PresenceMember[]
  stats(channel: string): PresenceStats
  /** Channel → subscribers on every live instance (channels with at least one). */
  channels(): Map<string, number>
}

interface ChannelState {
  count: number
  /** null: a channel that is only counted. */
  members: Map<string, PresenceMember> | null
}

interface InstanceState {
  /** The last change message applied (or, for this instance, sent). */
  seq: number
  /** Changes were missed: ignore more until a full copy arrives. */
  stale: boolean
  readonly channels: Map<string, ChannelState>
}

interface Totals {
  count: number
  /** Identified user → connections among the channel's members. */
  readonly users: Map<string, number>
}

export interface ClusterPresenceHost {
  /** This instance's id (null before the broker started). */
  selfId(): string | null
  /** Whether there are other instances to tell (false standalone). */
  clustered(): boolean
  /** Best-effort send on the control channel. */
  send(text: string): void
  /** Live peer ids (not this instance). */
  peers(): readonly string[]
  events(): PresenceEvents | null
  /** What we know of another instance changed (its changes, its copy, its departure). */
  changed(): void
  /** How long to wait before asking a peer for its full copy again. */
  readonly askAgainMs: number
}

const toWire = (m: PresenceMember): PresenceMemberWire => [m.connectionId, m.userId, m.sessionId, m.connectedAt]
const fromWire = (w: PresenceMemberWire, instance: string): PresenceMember => ({ connectionId: w[0], userId: w[1], sessionId: w[2], connectedAt: w[3], instance })

// Timers: setTimeout (not setImmediate), as the dashboard's browser build type-checks this module too.

/** Channels counted per live peer whose first copy has not come yet (#early): beyond it, a change is not counted. */
const MAX_EARLY_CHANNELS = 10_000

/**
 * Every instance's subscribers, on every instance: each one keeps its own channels (counts, and
 * members of presence channels), sends its changes to the others in one numbered message per
 * turn, and answers a full copy when asked. A peer whose messages were missed (a number skipped,
 * or its heartbeat announcing another number) is asked for its copy; a peer that leaves or stops
 * sending heartbeats (ClusterView's expiry) is dropped with all its members. Cluster-wide
 * transitions (a channel's first subscriber, its last) are reported by one instance, the leader:
 * the live instance with the smallest id.
 */
export class ClusterPresence implements PresenceBook {
  readonly #host: ClusterPresenceHost
  readonly #self: InstanceState = { seq: 0, stale: false, channels: new Map() }
  readonly #peers = new Map<string, InstanceState>()
  readonly #totals = new Map<string, Totals>()
  readonly #asked = new Map<string, number>()
  /**
   * Live peers whose changes came before their first copy (dropped, the copy holds them): their
   * subscribers per channel changed by so much. The copy's channels those changes made or emptied
   * are reported when it comes (the peer knew a leader, so it reported nothing itself).
   */
  readonly #early = new Map<string, Map<string, number>>()
  #queue: PresenceChange[] = []
  #flushing = false
  #syncing = false

  constructor(host: ClusterPresenceHost) {
    this.#host = host
  }

  // ── the local side ──────────────────────────────────────────────────────────────────────

  join(channel: string, member: PresenceMember | null): void {
    if (!this.#add(this.#self, channel, member, true)) return
    this.#enqueue([1, channel, member === null ? null : toWire(member)])
  }

  leave(channel: string, connectionId: string | null): void {
    if (this.#remove(this.#self, channel, connectionId, true) === null) return
    this.#enqueue([0, channel, connectionId])
  }

  members(channel: string): PresenceMember[] {
    const out: PresenceMember[] = []
    for (const state of this.#instances()) {
      const members = state.channels.get(channel)?.members
      if (members !== undefined && members !== null) for (const m of members.values()) out.push(m)
    }
    // Code-point order (not localeCompare: ICU, and slow on 10,000 members); a page's cursor relies on it (server/presence.ts).
    return out.sort((a, b) => a.connectedAt - b.connectedAt || (a.connectionId < b.connectionId ? -1 : a.connectionId > b.connectionId ? 1 : 0))
  }

  stats(channel: string): PresenceStats {
    const t = this.#totals.get(channel)
    return { clients: t?.count ?? 0, users: t?.users.size ?? 0 }
  }

  channels(): Map<string, number> {
    const out = new Map<string, number>()
    for (const [channel, t] of this.#totals) out.set(channel, t.count)
    return out
  }

  /** The number of the last change message sent (carried by heartbeats). */
  get seq(): number {
    return this.#self.seq
  }

  /** Whether this instance reports the cluster's transitions. */
  leader(): boolean {
    const self = this.#host.selfId()
    if (self === null) return false
    return this.#host.peers().every((p) => self < p)
  }

  // ── the cluster side ────────────────────────────────────────────────────────────────────

  /** A peer's changes. */
  changes(origin: string, seq: number, changes: readonly PresenceChange[]): void {
    const state = this.#peers.get(origin)
    if (state === undefined && this.#host.peers().includes(origin)) this.#heardEarly(origin, changes)
    if (state === undefined || state.stale) return this.#ask(origin)
    if (seq <= state.seq) return
    if (seq !== state.seq + 1) {
      state.stale = true
      return this.#ask(origin)
    }
    state.seq = seq
    for (const [op, channel, arg] of changes) {
      if (op === 1) this.#add(state, channel, arg === null ? null : fromWire(arg, origin), true)
      else this.#remove(state, channel, arg, true)
    }
    this.#host.changed()
  }

  /** A peer's full copy: replaces what we knew of it. */
  sync(origin: string, seq: number, channels: readonly PresenceChannelWire[]): void {
    const known = this.#peers.get(origin)
    if (known !== undefined && !known.stale && seq <= known.seq) return
    const state: InstanceState = { seq, stale: false, channels: new Map() }
    for (const [channel, count, members] of channels) {
      const map = members === null ? null : new Map(members.map((w) => [w[0], fromWire(w, origin)] as const))
      state.channels.set(channel, { count: members === null ? count : map?.size ?? 0, members: map })
    }
    // A first copy is news to nobody (the channels were occupied before we heard of them), but
    // for the changes heard before it (#early); a later one replaces a copy that missed changes,
    // and what changed meanwhile is reported.
    const early = known === undefined ? this.#early.get(origin) : undefined
    const before = new Map<string, number>()
    for (const c of early?.keys() ?? []) before.set(c, (this.#totals.get(c)?.count ?? 0) + (state.channels.get(c)?.count ?? 0) - (early?.get(c) ?? 0))
    this.#replace(origin, state, known !== undefined)
    this.#early.delete(origin)
    for (const [c, was] of before) {
      const now = this.#totals.get(c)?.count ?? 0
      if (was <= 0 && now > 0) this.#report('occupied', c)
      else if (was > 0 && now === 0) this.#report('vacated', c)
    }
    this.#asked.delete(origin)
    this.#host.changed()
  }

  /** A peer asks for a full copy: `of` names who should answer. */
  asked(of: string): void {
    if (of !== this.#host.selfId() || this.#syncing) return
    this.#syncing = true
    setTimeout(() => {
      this.#syncing = false
      this.#flush()
      this.#sendSync()
    }, 0)
  }

  /** A peer's heartbeat announcing the number of its last change message. */
  heartbeat(origin: string, seq: number | undefined): void {
    if (seq === undefined) return
    const state = this.#peers.get(origin)
    if (state === undefined || state.stale || state.seq !== seq) this.#ask(origin)
  }

  /** A peer left or stopped answering: its members go. */
  drop(origin: string): void {
    this.#early.delete(origin)
    if (!this.#peers.has(origin)) return
    this.#replace(origin, null, true)
    this.#asked.delete(origin)
    this.#host.changed()
  }

  /** Drops every peer not among `live` (the cluster view's live instances), and forgets asking those that are not. */
  keepOnly(live: readonly string[]): void {
    for (const origin of [...this.#peers.keys()]) if (!live.includes(origin)) this.drop(origin)
    // An origin that sent presence messages but no heartbeat is no instance: asking it again later costs nothing kept here.
    for (const origin of [...this.#asked.keys()]) if (!live.includes(origin)) this.#asked.delete(origin)
    for (const origin of [...this.#early.keys()]) if (!live.includes(origin)) this.#early.delete(origin)
  }

  /** Origins asked for a whole copy that did not send one yet (each kept until it answers, leaves or expires). */
  get asking(): number {
    return this.#asked.size
  }

  /** Our transport came back: peers may have missed our changes; send a full copy. */
  resend(): void {
    if (!this.#host.clustered()) return
    this.#flush()
    this.#sendSync()
  }

  // ── bookkeeping ─────────────────────────────────────────────────────────────────────────

  *#instances(): Iterable<InstanceState> {
    yield this.#self
    yield* this.#peers.values()
  }

  /** Changes of a live peer whose copy has not come yet: what they did to each channel's count. */
  #heardEarly(origin: string, changes: readonly PresenceChange[]): void {
    let deltas = this.#early.get(origin)
    if (deltas === undefined) this.#early.set(origin, (deltas = new Map()))
    for (const [op, channel] of changes) {
      const was = deltas.get(channel)
      // Bounded: a peer that never sends its copy keeps at most this many channels here.
      if (was === undefined && deltas.size >= MAX_EARLY_CHANNELS) continue
      deltas.set(channel, (was ?? 0) + (op === 1 ? 1 : -1))
    }
  }

  #ask(origin: string): void {
    const self = this.#host.selfId()
    if (self === null) return
    const now = Date.now()
    const last = this.#asked.get(origin)
    if (last !== undefined && now - last < this.#host.askAgainMs) return
    this.#asked.set(origin, now)
    this.#host.send(presenceAskMessage(self, origin))
  }

  #enqueue(change: PresenceChange): void {
    if (!this.#host.clustered()) return
    this.#queue.push(change)
    if (this.#flushing) return
    this.#flushing = true
    setTimeout(() => this.#flush(), 0)
  }

  #flush(): void {
    this.#flushing = false
    const self = this.#host.selfId()
    if (this.#queue.length === 0 || self === null) return
    const changes = this.#queue
    this.#queue = []
    this.#self.seq++
    this.#host.send(presenceMessage(self, this.#self.seq, changes))
  }

  #sendSync(): void {
    const self = this.#host.selfId()
    if (self === null) return
    const channels: PresenceChannelWire[] = []
    for (const [channel, ch] of this.#self.channels) channels.push([channel, ch.count, ch.members === null ? null : [...ch.members.values()].map(toWire)])
    this.#host.send(presenceSyncMessage(self, this.#self.seq, channels))
  }

  /**
   * Adds subscribers to an instance's channel: one member, or `n` counted ones when `member` is
   * null (a whole copy's count, taken in one step however large it claims to be); false when
   * the member was there already.
   */
  #add(state: InstanceState, channel: string, member: PresenceMember | null, report: boolean, n = 1): boolean {
    if (member === null && n <= 0) return false
    let ch = state.channels.get(channel)
    if (ch === undefined) {
      ch = { count: 0, members: member === null ? null : new Map() }
      state.channels.set(channel, ch)
    }
    if (member !== null) {
      ch.members ??= new Map()
      if (ch.members.has(member.connectionId)) return false
      ch.members.set(member.connectionId, member)
      n = 1
    }
    ch.count += n
    let t = this.#totals.get(channel)
    if (t === undefined) {
      t = { count: 0, users: new Map() }
      this.#totals.set(channel, t)
    }
    t.count += n
    if (member?.userId != null) t.users.set(member.userId, (t.users.get(member.userId) ?? 0) + 1)
    if (t.count === n && report) this.#report('occupied', channel)
    return true
  }

  /**
   * Removes one member, or `n` counted subscribers when `connectionId` is null or the channel
   * keeps no members (never below the members it holds); the member removed (or `true` for
   * counted ones), null when there was none.
   */
  #remove(state: InstanceState, channel: string, connectionId: string | null, report: boolean, n = 1): PresenceMember | true | null {
    const ch = state.channels.get(channel)
    if (ch === undefined) return null
    let member: PresenceMember | true = true
    if (connectionId !== null && ch.members !== null) {
      const m = ch.members.get(connectionId)
      if (m === undefined) return null
      ch.members.delete(connectionId)
      member = m
      n = 1
    } else {
      n = Math.min(n, ch.count - (ch.members?.size ?? 0))
      if (n <= 0) return null
    }
    ch.count -= n
    if (ch.count <= 0) state.channels.delete(channel)
    const t = this.#totals.get(channel)
    if (t === undefined) return member
    t.count -= n
    if (member !== true && member.userId !== null) {
      const n = (t.users.get(member.userId) ?? 1) - 1
      if (n <= 0) t.users.delete(member.userId)
      else t.users.set(member.userId, n)
    }
    if (t.count <= 0) {
      this.#totals.delete(channel)
      if (report) this.#report('vacated', channel)
    }
    return member
  }

  /** Replaces (or with null, drops) a peer's state; reports what changed when `report`. */
  #replace(origin: string, next: InstanceState | null, report: boolean): void {
    const old = this.#peers.get(origin)
    const touched = new Set<string>([...(old?.channels.keys() ?? []), ...(next?.channels.keys() ?? [])])
    const before = new Map<string, number>()
    for (const c of touched) before.set(c, this.#totals.get(c)?.count ?? 0)
    const gone = new Map<string, PresenceMember[]>()
    if (old !== undefined) {
      for (const [channel, ch] of [...old.channels]) {
        for (const id of [...(ch.members?.keys() ?? [])]) {
          const m = this.#remove(old, channel, id, false)
          if (next === null && m !== null && m !== true) {
            // Pushed, not copied: a copy per member made a peer of 20,000 members cost seconds (bench/presence-drop.mjs).
            let list = gone.get(channel)
            if (list === undefined) gone.set(channel, (list = []))
            list.push(m)
          }
        }
        // Counted subscribers (a channel without presence, or counted beside members): in one step.
        const rest = old.channels.get(channel)?.count ?? 0
        if (rest > 0) this.#remove(old, channel, null, false, rest)
      }
      this.#peers.delete(origin)
    }
    if (next !== null) {
      const fresh: InstanceState = { seq: next.seq, stale: false, channels: new Map() }
      this.#peers.set(origin, fresh)
      for (const [channel, ch] of next.channels) {
        for (const m of ch.members?.values() ?? []) this.#add(fresh, channel, m, false)
        this.#add(fresh, channel, null, false, ch.count - (ch.members?.size ?? 0))
      }
    }
    if (!report) return
    for (const [channel, members] of gone) this.#report('gone', channel, members)
    for (const c of touched) {
      const was = before.get(c) ?? 0
      const now = this.#totals.get(c)?.count ?? 0
      if (was === 0 && now > 0) this.#report('occupied', c)
      else if (was > 0 && now === 0) this.#report('vacated', c)
    }
  }

  #report(what: 'occupied' | 'vacated', channel: string): void
  #report(what: 'gone', channel: string, members: readonly PresenceMember[]): void
  #report(what: 'occupied' | 'vacated' | 'gone', channel: string, members?: readonly PresenceMember[]): void {
    const events = this.#host.events()
    if (events === null || !this.leader()) return
    if (what === 'gone') events.gone(channel, members ?? [])
    else events[what](channel)
  }
}
