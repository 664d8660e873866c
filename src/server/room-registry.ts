/**
 * Channel → local members. Knows nothing about sockets: members are opaque objects with a
 * `subscriptions` set that mirrors this index. Reports a room's first join and last leave so
 * the broker can (un)subscribe its cluster channel.
 */
export interface RoomMember {
  readonly id: string
  readonly subscriptions: Set<string>
  /** `subscriptions.size`, read without making the set of a member that has none. */
  readonly subscriptionCount: number
}

export class RoomRegistry<M extends RoomMember> {
  readonly #rooms = new Map<string, Set<M>>()
  readonly #onActive: (room: string) => void
  readonly #onIdle: (room: string) => void
  readonly #onLeave: (room: string, member: M) => void

  constructor(hooks: { onActive: (room: string) => void; onIdle: (room: string) => void; onLeave?: (room: string, member: M) => void }) {
    this.#onActive = hooks.onActive
    this.#onIdle = hooks.onIdle
    this.#onLeave = hooks.onLeave ?? (() => {})
  }

  /** Adds a member; returns false when it was already in the room. */
  join(room: string, member: M): boolean {
    let set = this.#rooms.get(room)
    if (set === undefined) {
      set = new Set()
      this.#rooms.set(room, set)
      this.#onActive(room)
    } else if (set.has(member)) {
      return false
    }
    set.add(member)
    member.subscriptions.add(room)
    return true
  }

  /** Removes a member; returns false when it was not in the room. */
  leave(room: string, member: M): boolean {
    const set = this.#rooms.get(room)
    if (set === undefined || !set.delete(member)) return false
    member.subscriptions.delete(room)
    this.#onLeave(room, member)
    if (set.size === 0) {
      this.#rooms.delete(room)
      this.#onIdle(room)
    }
    return true
  }

  /** Removes a member from every room it is in. */
  leaveAll(member: M): void {
    if (member.subscriptionCount === 0) return
    for (const room of [...member.subscriptions]) this.leave(room, member)
  }

  members(room: string): ReadonlySet<M> | undefined {
    return this.#rooms.get(room)
  }

  get size(): number {
    return this.#rooms.size
  }

  /** Room name → local member count. */
  counts(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const [room, set] of this.#rooms) out[room] = set.size
    return out
  }

  rooms(): IterableIterator<string> {
    return this.#rooms.keys()
  }
}
