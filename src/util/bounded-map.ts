/** A Map that keeps at most `capacity` entries, evicting the least recently written. */
export class BoundedMap<K, V> {
  readonly #map = new Map<K, V>()
  readonly capacity: number

  constructor(capacity: number) {
    if (!(capacity > 0)) throw new RangeError('capacity must be positive')
    this.capacity = capacity
  }

  get(key: K): V | undefined {
    return this.#map.get(key)
  }

  /** Sets a value, making it the newest entry. */
  set(key: K, value: V): this {
    this.#map.delete(key)
    this.#map.set(key, value)
    if (this.#map.size > this.capacity) {
      const oldest = this.#map.keys().next()
      if (oldest.done !== true) this.#map.delete(oldest.value)
    }
    return this
  }

  delete(key: K): boolean {
    return this.#map.delete(key)
  }

  get size(): number {
    return this.#map.size
  }

  entries(): IterableIterator<[K, V]> {
    return this.#map.entries()
  }
}
