/** The dialects a service can name in its spec (docs/protocol.md A and B). */
export type { Dialect, KeepaliveHooks } from './dialect.js'
export { envelopeDialect } from './envelope.js'
export { devFlatVerifier, flatDialect, type FlatCredentials, type FlatDialectOptions, type FlatIdentity, type FlatVerifier } from './flat.js'
