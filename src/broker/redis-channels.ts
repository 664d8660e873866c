import { CONTROL_CHANNEL, DIRECT_CHANNEL, ROOM_CHANNEL_PREFIX, roomChannel } from './cluster-channels.js'

/**
 * Every Redis channel and key name roomcast uses, built here and nowhere else, from one
 * prefix (`REDIS_PUBSUB_PREFIX`, default `roomcast:`) and the service name, so services and
 * deployments sharing one Redis never hear each other.
 */
export interface RedisNames {
  /** The Redis channel of a cluster channel (cluster-channels.ts). */
  channel(name: string): string
  /** The channel carrying publications of one room. */
  room(channel: string): string
  /** A pattern matching every room channel of the service (for services that observe all events). */
  readonly allRooms: string
  /** Direct messages to one connection, wherever it lives. */
  readonly direct: string
  /** Instance heartbeats and leaves. */
  readonly cluster: string
  /** The keys of one history channel's stream: its meta hash (epoch, top offset) and its entries. */
  streamKeys(channel: string): { readonly meta: string; readonly stream: string }
  /** The subscriptions an agent held, kept for its next connection (flat dialect restore). */
  restore(agentId: string): string
  /** A lock that one instance of the service holds at a time (e.g. `metrics`: the snapshot publisher). */
  lock(name: string): string
  /** One instance's figures for cluster-wide views, and the sorted set indexing them by time. */
  figures(instanceId: string): string
  readonly figuresIndex: string
  /** The pending tracked deliveries of one identity (its events, its owner instance), in one slot (pending-scripts.ts). */
  pending(identity: string): { readonly entries: string; readonly owner: string }
  /** One instance's lease: present while the instance is alive (renewed by its heartbeat). */
  lease(instanceId: string): string
  /** The frame text of a pending event, kept once for all its recipients' records. */
  pendingFrame(eventId: string): string
  /**
   * One Redis only: the prefixes of the record kept per event (pending-scripts.ts), each
   * followed by an event id, an instance id or an identity. Absent on a Redis Cluster, whose
   * record is one hash per identity (`pending`).
   */
  readonly pendingByEvent?: PendingByEvent
}

/** Key prefixes of the per-event durable record on one Redis (pending-scripts.ts). */
export interface PendingByEvent {
  /** + event id: `<order> <event>\n<frame text>`. */
  readonly event: string
  /** + event id: the set of identities the event is pending for. */
  readonly to: string
  /** + event id: identity → attempts, for those sent more than once. */
  readonly tries: string
  /** + instance id: the events an instance recorded (event id → ms when indexed). */
  readonly index: string
  /** + identity: the instances whose index may hold the identity's events. */
  readonly where: string
  /** + identity: events recorded for it with their publish (a private channel), event id → ms. */
  readonly inbox: string
  /** + identity: its events moved out of the index of an instance gone (pending-scripts.ts PENDING_SPLIT_GONE), event id → ms. */
  readonly moved: string
}

export function redisNames(prefix: string, service: string): RedisNames {
  const base = `${prefix}${service}:`
  return {
    channel: (name) => `${base}${name}`,
    room: (channel) => `${base}${roomChannel(channel)}`,
    // Glob metacharacters in the prefix or service name would widen the pattern: escape them.
    allRooms: `${base.replace(/[*?[\]\\]/g, '\\$&')}${ROOM_CHANNEL_PREFIX}*`,
    direct: `${base}${DIRECT_CHANNEL}`,
    cluster: `${base}${CONTROL_CHANNEL}`,
    streamKeys: (channel) => ({ meta: `${base}meta:${channel}`, stream: `${base}stream:${channel}` }),
    restore: (agentId) => `${base}restore:${agentId}`,
    lock: (name) => `${base}lock:${name}`,
    figures: (instanceId) => `${base}figures:${instanceId}`,
    figuresIndex: `${base}figures`,
    pending: (identity) => ({ entries: `${base}pending:${identity}`, owner: `${base}pending-owner:${identity}` }),
    lease: (instanceId) => `${base}lease:${instanceId}`,
    pendingFrame: (eventId) => `${base}pending-frame:${eventId}`,
    pendingByEvent: {
      event: `${base}pending-event:`,
      to: `${base}pending-to:`,
      tries: `${base}pending-tries:`,
      index: `${base}pending-index:`,
      where: `${base}pending-where:`,
      inbox: `${base}pending-inbox:`,
      moved: `${base}pending-moved:`,
    },
  }
}

/** How many sharded channels carry a service's rooms on a Redis Cluster. */
export const ROOM_BUCKETS = 256

/** A room's bucket: FNV-1a of its name, so every instance picks the same one. */
export function roomBucket(channel: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < channel.length; i++) h = Math.imul(h ^ channel.charCodeAt(i), 0x01000193)
  return (h >>> 0) % ROOM_BUCKETS
}

/** The names on a Redis Cluster, with the sharded channels of every room bucket. */
export interface RedisClusterNames extends RedisNames {
  /** Every bucket's channel: what an instance observing every room subscribes. */
  readonly everyRoom: readonly string[]
}

/**
 * The names on a Redis Cluster, from the same prefix. Sharded pub/sub has no patterns, and a
 * service that observes every room (a projection) must hear them all: so rooms travel on
 * ROOM_BUCKETS sharded channels, `{prefix service:N}:room`, spread over the slots, and an
 * instance subscribes the buckets of its rooms (or all of them). A history channel's meta and
 * stream share their bucket's hash tag, so the append-and-SPUBLISH script touches one slot.
 * Instance traffic (heartbeats, direct sends, locks, figures, leases) shares the fixed tag
 * `{prefix service:}`: one shard carries it, not every one. An identity's pending deliveries
 * (its events and its owner) share the tag `{prefix service:pending:identity}`, so the scripts
 * that touch both run on one shard.
 */
export function redisClusterNames(prefix: string, service: string): RedisClusterNames {
  const base = `${prefix}${service}:`
  const fixed = (name: string) => `{${base}}${name}`
  const bucket = (n: number) => `{${base}${n}}`
  const room = (channel: string) => `${bucket(roomBucket(channel))}:room`
  return {
    channel: (name) => (name.startsWith(ROOM_CHANNEL_PREFIX) ? room(name.slice(ROOM_CHANNEL_PREFIX.length)) : fixed(name)),
    room,
    // Sharded pub/sub has no patterns: everyRoom lists the bucket channels instead.
    allRooms: '',
    everyRoom: Array.from({ length: ROOM_BUCKETS }, (_, n) => `${bucket(n)}:room`),
    direct: fixed(DIRECT_CHANNEL),
    cluster: fixed(CONTROL_CHANNEL),
    streamKeys: (channel) => {
      const tag = bucket(roomBucket(channel))
      return { meta: `${tag}:meta:${channel}`, stream: `${tag}:stream:${channel}` }
    },
    restore: (agentId) => fixed(`restore:${agentId}`),
    lock: (name) => fixed(`lock:${name}`),
    figures: (instanceId) => fixed(`figures:${instanceId}`),
    figuresIndex: fixed('figures'),
    pending: (identity) => {
      const tag = `{${base}pending:${identity}}`
      return { entries: `${tag}:e`, owner: `${tag}:o` }
    },
    lease: (instanceId) => fixed(`lease:${instanceId}`),
    pendingFrame: (eventId) => `{${base}pending-frame:${eventId}}`,
  }
}
