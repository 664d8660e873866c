import type { IpcLink } from './ipc-link.js'
import type { MeshTimings } from './ipc-mesh.js'
import type { Transport, TransportEvents } from './transport.js'

/**
 * The workers of one service on one host (node:cluster), meeting through their primary: a
 * publish goes up the worker's IPC channel and the primary (ipc-hub.ts) relays it only to the
 * workers that subscribe the channel. The sender is counted among the receivers when it subscribes
 * but does not hear its own plain publish back (the cluster layer would only drop the echo); a
 * stored publication does come back to it, as over Redis. One primary serves one service, so
 * channel names need no service prefix.
 */
export class IpcTransport implements Transport {
  readonly kind = 'ipc'
  readonly standalone = false
  readonly address = 'primary (node:cluster IPC)'
  readonly #link: IpcLink
  /** What this worker subscribes, as the primary knows it: it counts among a direct publication's receivers. */
  readonly #channels = new Set<string>()
  #everyRoom = false
  #open = false
  #lastError: string | null = null

  readonly #mesh: MeshTimings | null

  /** `mesh`: send room publications to the other workers directly (ipc-mesh.ts); null: everything through the primary. */
  constructor(link: IpcLink, mesh: MeshTimings | null = null) {
    this.#link = link
    this.#mesh = mesh
  }

  get ready(): boolean {
    return this.#open && this.#link.connected
  }

  get lastError(): string | null {
    return this.#lastError
  }

  async open(_service: string, _name: string, events: TransportEvents): Promise<boolean> {
    this.#link.onMessage((bytes) => {
      if (this.#open) events.message(bytes)
    })
    this.#link.onLost(() => {
      this.#lastError = 'the primary is gone (IPC channel closed)'
      events.lost('send')
      events.lost('receive')
    })
    if (!this.#link.connected) return false
    // In the background: until it has joined, publications go through the primary.
    if (this.#mesh !== null) void this.#link.joinMesh(this.#mesh)
    this.#open = true
    events.sendReady()
    events.receiveReady()
    return true
  }

  async publish(channel: string, bytes: string): Promise<number> {
    // A room publication goes straight to the workers that subscribe it when they can be reached (ipc-mesh.ts).
    const direct = this.ready ? this.#link.sendDirect(channel, bytes) : null
    if (direct !== null) {
      // Answered once it has left this worker, as one through the primary is once the primary has it.
      if (direct > 0) await this.#link.directWritten()
      return direct + (this.#everyRoom || this.#channels.has(channel) ? 1 : 0)
    }
    return Number(await this.#link.ask({ op: 'publish', channel, bytes }))
  }

  async subscribe(channels: readonly string[]): Promise<void> {
    for (const c of channels) this.#channels.add(c)
    await this.#link.ask({ op: 'subscribe', channels: [...channels] })
  }

  async subscribeEveryRoom(): Promise<void> {
    this.#everyRoom = true
    await this.#link.ask({ op: 'subscribe_rooms' })
  }

  async unsubscribeEveryRoom(): Promise<void> {
    this.#everyRoom = false
    await this.#link.ask({ op: 'unsubscribe_rooms' })
  }

  async unsubscribe(channel: string): Promise<void> {
    this.#channels.delete(channel)
    await this.#link.ask({ op: 'unsubscribe', channel })
  }

  async close(last: { readonly channel: string; readonly bytes: string } | null): Promise<void> {
    if (last !== null && this.ready) await this.publish(last.channel, last.bytes).catch(() => {})
    this.#link.closeMesh()
    this.#open = false
  }
}
