import { z } from 'zod'
import { type EventSchemas, type ServerOptions, type ServiceSpec, WebSocketServer } from '../../src/server/websocket-server.js'
import type { JsonObject } from '../../src/protocol/messages.js'
import { type Settings, SettingsError } from '../../src/config/settings.js'
import { type DeclaredService, compileJsonSchema } from '../../src/config/service-declaration.js'
import { registerLookup } from '../common/lookup.js'
import { LatestByKey } from './latest-by-key.js'
import { declaredChannels, declaredDialect } from './meta.js'

export { declarationOf, declaredChannels, declaredDialect } from './meta.js'

/**
 * A service declared in its settings file alone (`service:`, docs/configuration.md): the same
 * core as the built-in ones, built from the declaration through the spec, with no code of its own.
 */

function eventSchemas(decl: DeclaredService): EventSchemas {
  const events: Record<string, z.ZodType<JsonObject>> = {}
  for (const [name, event] of Object.entries(decl.events)) {
    const compiled = event?.schema == null ? null : compileJsonSchema(event.schema)
    // The settings check refused a schema that does not compile; an object is the least any event's data is.
    const schema = compiled !== null && 'schema' in compiled ? compiled.schema : z.looseObject({})
    events[name] = schema as z.ZodType<JsonObject>
  }
  return events
}

/** The settings with the channels' history and tracked events added to `history` and `delivery.tracked`. */
function channelSettings(settings: Settings, decl: DeclaredService): Settings {
  const history = decl.channels.flatMap((c) => {
    if (c.history === false) return []
    const bounds = c.history === true ? {} : c.history
    const ttl = bounds.ttl ?? 300
    return [{ channel: c.pattern, size: bounds.size ?? 100, ttl, position_ttl: Math.max(86_400, ttl) }]
  })
  const tracked = [...new Set([...settings.delivery.tracked, ...decl.channels.flatMap((c) => c.tracked)])]
  return { ...settings, history: [...settings.history, ...history], delivery: { ...settings.delivery, tracked } }
}

/** Builds the server a declaration describes. */
export function createDeclared(settings: Settings, options?: ServerOptions): WebSocketServer {
  const decl = settings.service
  if (decl === null) throw new SettingsError('settings', ['service: missing: this service is declared in its settings file'])
  const lookups = Object.entries(decl.lookups).map(([op, l]) => ({ op, key: l.key, store: new LatestByKey(l.key, l.events) }))
  const spec: ServiceSpec = {
    name: decl.name,
    welcome: decl.welcome ?? `Connected to ${decl.name}`,
    channels: declaredChannels(decl),
    events: eventSchemas(decl),
    dialect: declaredDialect(decl),
    ...(lookups.length > 0 ? { hooks: { onPublication: (pub) => lookups.forEach((l) => l.store.apply(pub)) } } : {}),
  }
  const server = new WebSocketServer(spec, channelSettings(settings, decl), options)
  for (const l of lookups) registerLookup(server.requests, l.op, l.key, (id) => l.store.answer(id))
  return server
}
