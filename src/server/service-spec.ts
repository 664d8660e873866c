import type { Logger } from 'pino'
import type { z } from 'zod'
import type { Broker } from '../broker/broker.js'
import type { Dialect } from '../dialects/dialect.js'
import type { ChannelSpec } from '../protocol/channels.js'
import type { JsonObject } from '../protocol/messages.js'
import type { ServiceHooks } from './service-hooks.js'
import type { WorkerGroup } from './worker-group.js'

/** Event name → zod schema of its payload (extra fields pass through). */
export type EventSchemas = Readonly<Record<string, z.ZodType<JsonObject>>>

/** What a service declares; the base class does the rest. */
export interface ServiceSpec<E extends EventSchemas = EventSchemas> {
  /** Service name, e.g. `workflow`; also the `server` field of the welcome. */
  readonly name: string
  /** Welcome `message` text. */
  readonly welcome: string
  readonly channels: readonly ChannelSpec[]
  readonly events: E
  /** Wire dialect (codec, ids, auth, keepalive); default the envelope dialect. */
  readonly dialect?: Dialect
  /** Channels every connection joins once admitted (flat context service: `global`). */
  readonly autoSubscribe?: readonly string[]
  /** What this service does differently, called by the core at fixed points (service-hooks.ts); none by default. */
  readonly hooks?: ServiceHooks
}

export interface ServerOptions {
  /** Cluster broker; default from settings.redis: a RedisBroker when `redis.url` is set, else a MemoryBroker. */
  readonly broker?: Broker
  readonly logger?: Logger
  /** The other workers, when this server is one worker of several (`workers: N`): its status views answer for all. */
  readonly workers?: WorkerGroup
}
