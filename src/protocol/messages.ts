/**
 * The internal message types: every frame becomes one of these at the edge (a dialect's codec),
 * and every publication travels through the broker in this shape. Browser-safe: no Node APIs.
 */

import type { JsonShapeLimits } from './json-shape.js'

/** A JSON object payload. */
export type JsonObject = Record<string, unknown>

/** Where a publication sits in its channel's stream (history channels only; docs/protocol.md A.8). */
export interface StreamPosition {
  readonly offset: number
  /** Opaque; changes whenever the stream's past is lost. */
  readonly epoch: string
}

/** One event published to a channel; the unit the broker carries between instances. */
export interface Publication {
  /** Id of the event (format chosen by the dialect); the same bytes (and id) reach every subscriber. */
  readonly id: string
  readonly channel: string
  readonly event: string
  readonly data: JsonObject
  /** ISO-8601 time the event was accepted. */
  readonly timestamp: string
  /** Set by the broker on history channels; encoded as extra keys after the standard ones. */
  readonly position?: StreamPosition
}

/** A message for exactly one connection (POST /send), possibly on another instance. */
export interface DirectMessage {
  readonly id: string
  readonly connectionId: string
  readonly event: string
  readonly data: JsonObject
  readonly timestamp: string
}

/** What an answer to a client's frame must echo so the client can match it. */
export interface ReplyTo {
  /** Envelope: the request's correlation_id, else its id. Flat: the request's id. */
  readonly correlationId: string | null
  /** Flat: the client's timestamp, echoed on the answer. */
  readonly timestamp?: string | number
  /**
   * Envelope: the request's own id when it differs from its correlation_id. The answer is sent a
   * second time correlated to it (docs/protocol.md A.4; see answer.ts in the server).
   */
  readonly requestId?: string
}

/** A decoded inbound frame. Subscribe forms are normalised to requests `subscribe`/`unsubscribe`. */
export type Inbound =
  | ({ readonly kind: 'request'; readonly op: string | null; readonly data: JsonObject } & ReplyTo)
  | ({ readonly kind: 'ping' } & ReplyTo)
  /** The ids an ack names (`message_id`, or several in `message_ids`); a non-string one is settled as unknown. */
  | ({ readonly kind: 'ack'; readonly messageIds: readonly unknown[] } & ReplyTo)
  | { readonly kind: 'ignored' }
  | { readonly kind: 'invalid'; readonly message: string }

/** What a welcome frame tells a new connection. */
export interface WelcomeInfo {
  readonly connectionId: string
  readonly server: string
  readonly message: string
  readonly authenticated: boolean
  readonly secure: boolean
  readonly rateLimit: number
}

/** A frame as it arrives from a socket: text, or the UTF-8 bytes of text. */
export type RawFrame = string | Uint8Array

/** The server's half of a dialect's codec: decodes client frames, encodes server frames. */
export interface ServerCodec {
  /** Decodes a client frame; one over `limits` (depth, keys, elements) is `invalid` without being parsed. */
  decode(raw: RawFrame, limits?: JsonShapeLimits): Inbound
  encodeWelcome(info: WelcomeInfo): string
  encodeEvent(pub: Publication): string
  encodeDirect(msg: DirectMessage): string
  /** The answer to a request that succeeded. */
  encodeResponse(op: string, data: JsonObject, reply: ReplyTo): string
  /** A failure: of a request when `reply` is given, else of a frame (decode error, rate limit). */
  encodeError(code: string, message: string, reply: ReplyTo | null): string
  encodePong(reply: ReplyTo): string
  /** An application-level ping, for dialects whose keepalive is in frames. */
  encodePing(): string
  /** The warning that the connection's token expires at `expiresAt` (ms since the epoch), `expiresIn` seconds from now (docs/protocol.md A.6, B). */
  encodeTokenExpiring(expiresAt: number, expiresIn: number): string
}

/** A server frame decoded on the client side. */
export type ServerMessage =
  | { readonly kind: 'welcome'; readonly connectionId: string; readonly data: JsonObject }
  | {
      readonly kind: 'event'
      readonly id: string | null
      readonly channel: string | null
      readonly event: string
      readonly data: JsonObject
      readonly timestamp: string | number | null
      readonly position: StreamPosition | null
    }
  | { readonly kind: 'response'; readonly op: string | null; readonly data: JsonObject; readonly correlationId: string | null }
  | { readonly kind: 'error'; readonly code: string; readonly message: string; readonly correlationId: string | null }
  | { readonly kind: 'pong'; readonly correlationId: string | null }
  | { readonly kind: 'ping' }
  /** The connection's token expires at `expiresAt` (ms since the epoch): refresh it before then. */
  | { readonly kind: 'tokenExpiring'; readonly expiresAt: number }
  | { readonly kind: 'invalid'; readonly message: string }

/** The client's half of a dialect's codec (the TypeScript client imports only this side). */
export interface ClientCodec {
  /** A request `op` (subscribe, unsubscribe, publish, auth, or a service operation) with its parameters. */
  encodeRequest(op: string, data: JsonObject, id: string): string
  encodeSubscribe(channel: string, id: string, since?: StreamPosition): string
  encodeUnsubscribe(channel: string, id: string): string
  encodePublish(channel: string, event: string, data: JsonObject, id: string): string
  encodeAuth(credentials: JsonObject, id: string): string
  /** An ack of one or more tracked events, in the compact form the server reads without parsing (docs/protocol.md A.8). */
  encodeAck(messageIds: readonly string[]): string
  encodePing(id: string): string
  /** The answer to a server's application-level ping. */
  encodePong(): string
  decode(raw: RawFrame): ServerMessage
}
