import type { JsonObject } from '../protocol/messages.js'

/** A part of a server that reports its own status. */
export interface StatusContributor {
  /** Key of its figures in /health and /stats, e.g. `postgres`, `delivery`. */
  readonly name: string
  status(): JsonObject
  /** Whether the part lets the service count as healthy; absent means it always does. */
  healthy?(): boolean
}

/** The contributors of one server, in registration order. */
export class StatusRegistry {
  readonly #parts = new Map<string, StatusContributor>()

  /** Adds (or replaces, by name) a contributor. */
  register(part: StatusContributor): void {
    this.#parts.set(part.name, part)
  }

  parts(): IterableIterator<StatusContributor> {
    return this.#parts.values()
  }
}
