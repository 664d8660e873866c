// What the CLI knows of a declared service before it runs one (services/catalog.ts): no server code here.
import type { ChannelSpec } from '../../src/protocol/channels.js'
import { envelopeDialect } from '../../src/dialects/envelope.js'
import { type DeclaredService, DeclaredServiceSchema } from '../../src/config/service-declaration.js'
import { hmacFlatDialect } from '../common/flat-tokens.js'

const DIALECTS = { envelope: envelopeDialect, flat: hmacFlatDialect } as const

/** The declaration's channels as the core takes them. */
export function declaredChannels(decl: DeclaredService): ChannelSpec[] {
  return decl.channels.map((c) => (c.private_to === null ? { pattern: c.pattern } : { pattern: c.pattern, privateTo: c.private_to }))
}

export function declaredDialect(decl: Pick<DeclaredService, 'dialect'>) {
  return DIALECTS[decl.dialect]
}

/** The declaration in a settings document, when it is a valid one (else the settings check reports it). */
export function declarationOf(doc: unknown): DeclaredService | null {
  if (typeof doc !== 'object' || doc === null || !('service' in doc)) return null
  const parsed = DeclaredServiceSchema.safeParse((doc as { service: unknown }).service)
  return parsed.success ? parsed.data : null
}
