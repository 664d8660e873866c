import { z } from 'zod'
import { patternsOverlap } from '../broker/history-channels.js'
import { MAX_CHANNEL_LENGTH } from '../protocol/channels.js'

/**
 * The `service` block of a settings file: a whole service declared in YAML (docs/configuration.md
 * "Declaring a service"). Checked with the rest of the settings, every problem at once, each
 * named by its key (`service.channels.1.pattern: …`).
 */

const NAME = /^[a-z][a-z0-9-]{0,39}$/
const PARAM_NAME = /^[a-z_][a-z0-9_]*$/i
const EVENT_NAME = /^[A-Za-z0-9_.:-]{1,200}$/

/** Why a channel template does not parse, or null: `{name}` parameters, no stray braces, no whitespace. */
export function channelPatternProblem(pattern: string): string | null {
  const params: string[] = []
  const literal = pattern.replace(/\{([^{}]*)\}/g, (_, name: string) => {
    params.push(name)
    return 'x'
  })
  if (/[{}]/.test(literal)) return `${pattern} has an unmatched brace: write parameters as {name}`
  const bad = params.find((p) => !PARAM_NAME.test(p))
  if (bad !== undefined) return `${pattern}: parameter {${bad}} must be a name of letters, digits and _ (not starting with a digit)`
  const twice = params.find((p, i) => params.indexOf(p) !== i)
  if (twice !== undefined) return `${pattern} names the parameter {${twice}} twice`
  if (/\{[^}]*\}\{/.test(pattern)) return `${pattern}: two parameters side by side cannot be told apart; put a separator between them`
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f]/u.test(pattern)) return `${pattern} contains whitespace or control characters`
  return null
}

const ChannelDeclarationSchema = z
  .object({
    /** Template: `asset:{id}`, `global`. */
    pattern: z.string().min(1).max(MAX_CHANNEL_LENGTH),
    /** The parameter that must equal the reader's user id (a private channel). @default null */
    private_to: z.string().min(1).nullable().default(null),
    /** Keep a stream of this channel's publications for recovery (docs/protocol.md A.7); true = the default bounds. @default false */
    history: z
      .union([z.boolean(), z.object({ size: z.number().int().positive().max(100_000).optional(), ttl: z.number().positive().optional() }).strict()])
      .default(false),
    /** Events on this channel delivered at least once (docs/protocol.md A.8). @default [] */
    tracked: z.array(z.string().regex(EVENT_NAME)).default([]),
  })
  .strict()

const EventDeclarationSchema = z
  .object({
    /** JSON Schema of the event's data; null accepts any object. @default null */
    schema: z.record(z.string(), z.unknown()).nullable().default(null),
    description: z.string().optional(),
  })
  .strict()

const LookupDeclarationSchema = z
  .object({
    /** The request's parameter, and the field of the events' data that keys them (`asset_id`). */
    key: z.string().regex(PARAM_NAME, 'expected a field name'),
    /** Events that update the answer; the latest one per key wins. @default every event carrying the key */
    events: z.array(z.string().regex(EVENT_NAME)).default([]),
  })
  .strict()

/** Compiles a JSON Schema to a zod schema, or says why it does not compile. */
export function compileJsonSchema(schema: Record<string, unknown>): { readonly schema: z.ZodType } | { readonly problem: string } {
  try {
    return { schema: z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]) }
  } catch (err) {
    return { problem: (err as Error).message }
  }
}

type Issue = (path: PropertyKey[], message: string) => void
const adder =
  (ctx: z.RefinementCtx): Issue =>
  (path, message) =>
    ctx.addIssue({ code: 'custom', path, message })

type ChannelDeclaration = z.output<typeof ChannelDeclarationSchema>

/** Each pattern parses, names its private parameter, and no channel matches two patterns. */
function channelProblems(channels: readonly ChannelDeclaration[], problem: Issue): void {
  channels.forEach((c, i) => {
    const bad = channelPatternProblem(c.pattern)
    if (bad !== null) return problem([i, 'pattern'], bad)
    if (c.private_to !== null && !c.pattern.includes(`{${c.private_to}}`)) problem([i, 'private_to'], `${c.pattern} has no parameter {${c.private_to}}`)
    const earlier = channels.findIndex((o, j) => j < i && channelPatternProblem(o.pattern) === null && patternsOverlap(o.pattern, c.pattern))
    if (earlier >= 0) problem([i, 'pattern'], `${c.pattern} overlaps channels.${earlier}.pattern (${channels[earlier]?.pattern}): a channel must match one pattern`)
  })
}

const EventsSchema = z
  .record(z.string().regex(EVENT_NAME, 'expected an event name of letters, digits, _ . : -'), EventDeclarationSchema.nullable())
  .superRefine((events, ctx) => {
    for (const [name, event] of Object.entries(events)) {
      if (event === null || event.schema === null) continue
      const compiled = compileJsonSchema(event.schema)
      if ('problem' in compiled) adder(ctx)([name, 'schema'], `the JSON Schema does not compile: ${compiled.problem}`)
    }
  })

export const DeclaredServiceSchema = z
  .object({
    /** The service's name: the settings file's name without `.yaml`, not a built-in one. */
    name: z.string().regex(NAME, 'expected a lowercase name (letters, digits, -)'),
    /** Wire dialect: `envelope` (docs/protocol.md A) or `flat` (B). @default envelope */
    dialect: z.enum(['envelope', 'flat']).default('envelope'),
    /** Welcome `message` text (envelope dialect). @default "Connected to <name>" */
    welcome: z.string().min(1).nullable().default(null),
    channels: z
      .array(ChannelDeclarationSchema)
      .min(1)
      .superRefine((channels, ctx) => channelProblems(channels, adder(ctx))),
    events: EventsSchema,
    /** Requests answered from the latest event per key (like get_workflow_status). @default {} */
    lookups: z.record(z.string().regex(PARAM_NAME, 'expected a request name of letters, digits and _'), LookupDeclarationSchema).default({}),
  })
  .strict()
  .superRefine((s, ctx) => {
    const problem = adder(ctx)
    s.channels.forEach((c, i) =>
      c.tracked.forEach((e, k) => {
        if (!Object.hasOwn(s.events, e)) problem(['channels', i, 'tracked', k], `${e} is not one of the service's events`)
      }),
    )
    for (const [op, lookup] of Object.entries(s.lookups)) {
      lookup.events.forEach((e, k) => {
        if (!Object.hasOwn(s.events, e)) problem(['lookups', op, 'events', k], `${e} is not one of the service's events`)
      })
    }
  })

export type DeclaredService = z.output<typeof DeclaredServiceSchema>
