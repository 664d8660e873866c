/** `roomcast/client`: the TypeScript client for both dialects (docs/client.md). Browser-safe. */
export { RoomcastClient } from './client.js'
export { RoomcastError } from './errors.js'
export { backoffDelay, type BackoffOptions } from './backoff.js'
export type { ClientOptions, ClientState, EventMap, EventMeta, Subscribed } from './types.js'
export type { SocketFactory, SocketLike } from './socket.js'
export type { JsonObject, StreamPosition } from '../protocol/index.js'
