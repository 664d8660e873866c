/**
 * Connections held per client address, at most `max` each (max_connections_per_ip): a slot is
 * taken before the WebSocket handshake and given back when the socket closes, so one client
 * cannot fill max_connections by itself.
 */
export class AddressSlots {
  readonly #held = new Map<string, number>()
  readonly #max: number

  constructor(max: number) {
    this.#max = max
  }

  /** Takes a slot for `address`; false when it already holds `max`. */
  take(address: string): boolean {
    const n = this.#held.get(address) ?? 0
    if (n >= this.#max) return false
    this.#held.set(address, n + 1)
    return true
  }

  /** Gives back a slot `take` granted. */
  release(address: string): void {
    const n = this.#held.get(address) ?? 0
    if (n <= 1) this.#held.delete(address)
    else this.#held.set(address, n - 1)
  }

  /** Slots held by `address`. */
  held(address: string): number {
    return this.#held.get(address) ?? 0
  }
}
