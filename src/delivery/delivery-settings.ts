import { z } from 'zod'

/** An event-name pattern: letters, digits, `_ . : -`, and `*` for any run of characters. */
const EventPatternSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9_.:*-]+$/, 'expected an event name or a pattern such as "task.*"')

/**
 * The `delivery` block of a service's settings: which events are tracked (at-least-once,
 * docs/protocol.md A.8), how often they are tried, and the bounds on what is pending.
 */
export const DeliverySettingsSchema = z
  .object({
    /** Event-name patterns whose events are tracked, e.g. `["task.*"]`. @default [] (none) */
    tracked: z.array(EventPatternSchema).max(100).default([]),
    /** Sends of a tracked event, the first included, before it counts as failed. @default 3 */
    max_attempts: z.number().int().min(1).max(100).default(3),
    /** Seconds between attempts, and after the last one before the event counts as failed. @default 5 */
    ack_timeout: z.number().positive().max(3600).default(5),
    /** Unacknowledged events one recipient (a connection, or one user/agent across its connections) may hold. @default 1000 */
    max_pending_per_connection: z.number().int().positive().default(1000),
    /** Unacknowledged events the whole service may hold. @default 100000 */
    max_pending: z.number().int().positive().default(100_000),
    /** Bytes of distinct frames the pending events may hold (a frame shared by many recipients counts once). @default 64 MiB */
    max_pending_bytes: z.number().int().positive().default(64 * 1024 * 1024),
    /**
     * Where pending events are also recorded so they outlive this instance: `auto` in Redis when
     * the service runs on Redis (docs/protocol.md A.8), `off` in this process's memory only. @default auto
     */
    durable: z.enum(['auto', 'off']).default('auto'),
  })
  .strict()
  .prefault({})

export type DeliverySettings = Readonly<z.output<typeof DeliverySettingsSchema>>

/**
 * Compiles event-name patterns into one predicate: `*` matches any run of characters
 * (dots included), everything else matches itself.
 */
export function eventMatcher(patterns: readonly string[]): (event: string) => boolean {
  if (patterns.length === 0) return () => false
  const escape = (p: string) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')
  const re = new RegExp(`^(?:${patterns.map(escape).join('|')})$`)
  return (event) => re.test(event)
}
