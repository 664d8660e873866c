import { ROOM_CHANNEL_PREFIX } from './cluster-channels.js'
import type { Transport, TransportEvents } from './transport.js'

/** One transport joined to a bus: the service it serves and what it listens to. */
interface Member {
  readonly service: string
  readonly channels: Set<string>
  everyRoom: boolean
  readonly message: (bytes: string) => void
}

/**
 * Instances in one process meeting without a network (tests, or several instances embedded in
 * one program): what one publishes reaches every member of the same service subscribed to the
 * channel, itself included, in a later turn (like a message off a socket), in the order it was
 * published.
 */
export class MemoryBus {
  readonly #members = new Set<Member>()

  join(service: string, message: (bytes: string) => void): Member {
    const member: Member = { service, channels: new Set(), everyRoom: false, message }
    this.#members.add(member)
    return member
  }

  leave(member: Member): void {
    this.#members.delete(member)
  }

  /** Queues `bytes` for every listener of `channel`; returns how many there are. */
  publish(service: string, channel: string, bytes: string): number {
    let receivers = 0
    for (const m of this.#members) {
      if (m.service !== service || !(m.channels.has(channel) || (m.everyRoom && channel.startsWith(ROOM_CHANNEL_PREFIX)))) continue
      receivers++
      setImmediate(() => {
        if (this.#members.has(m)) m.message(bytes)
      })
    }
    return receivers
  }
}

/**
 * The transport of one process. Without a bus it is standalone: there is no other instance, and
 * the cluster layer sends nothing at all (a publication costs no encoding). On a `MemoryBus` it
 * is a full transport between the instances sharing the bus.
 */
export class MemoryTransport implements Transport {
  readonly kind = 'memory'
  readonly standalone: boolean
  readonly address = 'in-process'
  readonly lastError = null
  readonly #bus: MemoryBus | null
  #member: Member | null = null

  constructor(bus?: MemoryBus) {
    this.#bus = bus ?? null
    this.standalone = bus === undefined
  }

  get ready(): boolean {
    return this.#member !== null
  }

  async open(service: string, _name: string, events: TransportEvents): Promise<boolean> {
    if (this.#bus === null) return true
    this.#member = this.#bus.join(service, (bytes) => events.message(bytes))
    events.sendReady()
    events.receiveReady()
    return true
  }

  async publish(channel: string, bytes: string): Promise<number> {
    const member = this.#joined()
    return this.#bus?.publish(member.service, channel, bytes) ?? 0
  }

  async subscribe(channels: readonly string[]): Promise<void> {
    const member = this.#joined()
    for (const c of channels) member.channels.add(c)
  }

  async subscribeEveryRoom(): Promise<void> {
    this.#joined().everyRoom = true
  }

  async unsubscribeEveryRoom(): Promise<void> {
    this.#joined().everyRoom = false
  }

  async unsubscribe(channel: string): Promise<void> {
    this.#joined().channels.delete(channel)
  }

  async close(last: { readonly channel: string; readonly bytes: string } | null): Promise<void> {
    if (this.#member === null) return
    if (last !== null) await this.publish(last.channel, last.bytes)
    this.#bus?.leave(this.#member)
    this.#member = null
  }

  #joined(): Member {
    if (this.#member === null) throw new Error('memory transport not on a bus (or closed)')
    return this.#member
  }
}
