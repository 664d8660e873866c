/**
 * The instances of one service this instance has heard from recently. Each instance announces
 * itself (with its connection count) every `heartbeatMs`; one not heard from for `expiryMs` is
 * forgotten, so a crashed instance drops out of /stats without anyone telling.
 */
export class ClusterView {
  readonly #peers = new Map<string, { connections: number; seenAt: number }>()
  readonly #expiryMs: number
  readonly #now: () => number

  constructor(expiryMs: number, now: () => number = Date.now) {
    this.#expiryMs = expiryMs
    this.#now = now
  }

  /** Records a heartbeat; returns true when the peer was not known (or had expired). */
  heard(origin: string, connections: number): boolean {
    const fresh = !this.#alive(origin)
    this.#peers.set(origin, { connections, seenAt: this.#now() })
    return fresh
  }

  left(origin: string): void {
    this.#peers.delete(origin)
  }

  /** Live instances including this one. */
  instances(): number {
    this.#prune()
    return this.#peers.size + 1
  }

  /** Connections across live instances, given this instance's own count. */
  connections(own: number): number {
    this.#prune()
    let total = own
    for (const p of this.#peers.values()) total += p.connections
    return total
  }

  /** Ids of the live peers (not this instance). */
  peerIds(): string[] {
    this.#prune()
    return [...this.#peers.keys()]
  }

  #alive(origin: string): boolean {
    const p = this.#peers.get(origin)
    return p !== undefined && this.#now() - p.seenAt < this.#expiryMs
  }

  #prune(): void {
    const now = this.#now()
    for (const [id, p] of this.#peers) if (now - p.seenAt >= this.#expiryMs) this.#peers.delete(id)
  }
}
