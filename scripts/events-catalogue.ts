/**
 * Renders docs/events.md, the event catalogue, from the services' zod schemas (through zod 4's
 * z.toJSONSchema), so the page cannot drift from what the servers validate.
 * `npm run docs:events` writes it; test/unit/events-docs.test.ts fails when it is stale.
 * It lives outside src/ so it may read the service registry directly.
 */
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { z } from 'zod'
import { loadSettings, type WebSocketServer } from '../src/index.js'
import { SERVICES } from '../services/index.js'

type JsonSchema = {
  type?: string | string[]
  properties?: Record<string, JsonSchema>
  required?: string[]
  items?: JsonSchema
  enum?: unknown[]
  const?: unknown
  anyOf?: JsonSchema[]
  oneOf?: JsonSchema[]
  minLength?: number
  maxLength?: number
  minimum?: number
  maximum?: number
  exclusiveMinimum?: number
  format?: string
  pattern?: string
}

/** Largest integer zod reports as the bound of `.int()`; not worth printing. */
const SAFE = Number.MAX_SAFE_INTEGER

function bounds(s: JsonSchema): string {
  const parts: string[] = []
  if (s.exclusiveMinimum !== undefined) parts.push(`> ${s.exclusiveMinimum}`)
  if (s.minimum !== undefined && s.minimum !== -SAFE) parts.push(`≥ ${s.minimum}`)
  if (s.maximum !== undefined && s.maximum !== SAFE) parts.push(`≤ ${s.maximum}`)
  return parts.length > 0 ? ` ${parts.join(', ')}` : ''
}

/** A short human reading of one JSON Schema node, e.g. `non-empty string`, `integer ≥ 0`. */
export function describeType(s: JsonSchema): string {
  if (s.const !== undefined) return JSON.stringify(s.const)
  if (s.enum !== undefined) return `one of ${s.enum.map((v) => JSON.stringify(v)).join(', ')}`
  const union = s.anyOf ?? s.oneOf
  if (union !== undefined) return union.map(describeType).join(' or ')
  if (Array.isArray(s.type)) return s.type.join(' or ')
  switch (s.type) {
    case 'string': {
      if (s.format !== undefined) return `string (${s.format})`
      if (s.minLength === 1 && s.maxLength === undefined) return 'non-empty string'
      const len = [s.minLength !== undefined ? `≥ ${s.minLength}` : '', s.maxLength !== undefined ? `≤ ${s.maxLength}` : '']
        .filter((x) => x !== '')
        .join(', ')
      return len === '' ? 'string' : `string (length ${len})`
    }
    case 'integer':
    case 'number':
      return `${s.type}${bounds(s)}`
    case 'array':
      return s.items === undefined ? 'array' : `array of ${describeType(s.items)}`
    case 'object':
      return 'object'
    case undefined:
      return 'any JSON value'
    default:
      return s.type
  }
}

/** The payload cell of one event: each field with its type, required ones marked. */
export function describePayload(schema: z.ZodType): string {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema
  const required = new Set(json.required ?? [])
  const fields = Object.entries(json.properties ?? {}).map(([name, s]) => {
    const mark = required.has(name) ? ' **required**' : ''
    return `\`${name}\`${mark}: ${describeType(s)}`
  })
  return fields.length === 0 ? 'any fields' : fields.join('<br>')
}

export function renderService(name: string, defaultPort: number, server: WebSocketServer): string {
  const { spec } = server
  const dialect = server.dialect.name
  const welcome = dialect === 'envelope' ? ` Welcome message: "${spec.welcome}".` : ''
  const lines = [`## ${name}`, '', `Port ${defaultPort}, \`${dialect}\` dialect (${DIALECT_SECTION[dialect] ?? 'docs/protocol.md'}).${welcome}`, '']
  lines.push('| channel | private |', '| --- | --- |')
  for (const c of spec.channels) {
    const owner = c.privateTo === undefined ? '–' : `yes: readable only by the identity \`{${c.privateTo}}\` names, and admins`
    lines.push(`| \`${c.pattern}\` | ${owner} |`)
  }
  // The session answers `auth` itself (it owns the connection's identity), outside the registry.
  const ops = [...server.requests.operations(), ...(dialect === 'envelope' ? ['auth'] : [])].sort()
  lines.push('', `Requests: ${ops.map((o) => `\`${o}\``).join(', ')}.`, '')
  lines.push('| event | tracked | payload |', '| --- | --- | --- |')
  for (const [event, schema] of Object.entries(spec.events).sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`| \`${event}\` | ${server.delivery.isTracked(event) ? 'yes' : '–'} | ${describePayload(schema)} |`)
  }
  return lines.join('\n')
}

/** Where docs/protocol.md describes each dialect. */
const DIALECT_SECTION: Readonly<Record<string, string>> = {
  envelope: '[protocol.md A](protocol.md#a-the-envelope-dialect)',
  flat: '[protocol.md B](protocol.md#b-the-flat-dialect)',
}

const HEADER = `# Event catalogue

Generated from the services' zod schemas by \`npm run docs:events\`; do not edit by hand.
A test (\`test/unit/events-docs.test.ts\`) fails when this page and the schemas disagree.

For each service: its channel patterns (\`{id}\` stands for one segment), its requests, and each
event with its payload fields. Payloads are JSON objects; fields not listed pass through
unchanged. A publication whose payload lacks a **required** field, or has a field of the wrong
type, is refused with \`INVALID_EVENT\` naming the field
([protocol.md A.5](protocol.md#a5-events-and-publishing)). A **tracked** event is delivered at
least once: the client acknowledges it, or it is sent again
([protocol.md A.8](protocol.md#a8-delivery-history-and-recovery-extension)). Which events are
tracked is the service's \`delivery.tracked\` setting, shown as the shipped
\`settings/<service>.yaml\` sets it.`

const SETTINGS_DIR = fileURLToPath(new URL('../settings/', import.meta.url))

/**
 * The whole of docs/events.md, one section per registered service in registry order. Each
 * service is built (never started) from its shipped settings file without the environment, so
 * the page shows what a fresh checkout runs, e.g. which events `delivery.tracked` names.
 */
export function renderCatalogue(): string {
  const logger = pino({ level: 'silent' })
  const sections = Object.values(SERVICES).map((entry) => {
    const settings = loadSettings({ service: entry.name, file: join(SETTINGS_DIR, `${entry.name}.yaml`), defaults: { port: entry.defaultPort }, env: {} })
    return renderService(entry.name, entry.defaultPort, entry.create(settings, { logger }))
  })
  return `${[HEADER, ...sections].join('\n\n')}\n`
}
