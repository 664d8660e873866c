/**
 * The internal message types: every frame becomes one of these at the edge (the codec),
 * and every publication travels through the bridge in this shape.
 */

/** A JSON object payload. */
export type JsonObject = Record<string, unknown>

/** One event published to a channel; the unit the bridge carries between instances. */
export interface Publication {
  /** uuid4 of the event; the same bytes (and id) reach every subscriber. */
  readonly id: string
  readonly channel: string
  readonly event: string
  readonly data: JsonObject
  /** ISO-8601 time the event was accepted. */
  readonly timestamp: string
}

/** A message for exactly one connection (POST /send), possibly on another instance. */
export interface DirectMessage {
  readonly id: string
  readonly connectionId: string
  readonly event: string
  readonly data: JsonObject
  readonly timestamp: string
}

/** A decoded inbound frame. Subscribe forms are normalised to requests `subscribe`/`unsubscribe`. */
export type Inbound =
  | { readonly kind: 'request'; readonly op: string | null; readonly data: JsonObject; readonly correlationId: string | null }
  | { readonly kind: 'ping'; readonly correlationId: string | null }
  | { readonly kind: 'ack'; readonly messageId: unknown; readonly correlationId: string | null }
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

/** A dialect's codec: the only code that knows the bytes on the wire. */
export interface Codec {
  decode(raw: Buffer | ArrayBuffer | Buffer[]): Inbound
  encodeEvent(pub: Publication): string
  encodeDirect(msg: DirectMessage): string
  encodeResponse(op: string, data: JsonObject, correlationId: string | null): string
  encodeError(code: string, message: string, correlationId: string | null): string
  encodePong(correlationId: string | null): string
  encodeWelcome(info: WelcomeInfo): string
}
