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
  }
}
