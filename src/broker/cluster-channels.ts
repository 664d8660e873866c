/**
 * The channels the instances of one service talk on, by their cluster names. A transport turns a
 * name into its own (Redis: the prefix and the service before it, redis-channels.ts), so two
 * services or deployments sharing one transport never hear each other.
 */

/** Heartbeats, leaves and tracked-delivery messages. */
export const CONTROL_CHANNEL = 'cluster'

/** Direct messages to one connection wherever it lives, and every answer (direct acks, delivery reports). */
export const DIRECT_CHANNEL = 'direct'

/** The channel carrying the publications of one room. */
export function roomChannel(room: string): string {
  return `room:${room}`
}

/** Every room channel starts with this (what a transport matches for `subscribeEveryRoom`). */
export const ROOM_CHANNEL_PREFIX = 'room:'
