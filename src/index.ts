// The public API of the roomcast core, named exports only: what a user of the package needs to
// run, extend or embed a service. Everything else is internal and may change in any 0.x release;
// the project's own services and tests import internals from their modules.

// The server base, what a service declares, and the hooks it may declare.
export { WebSocketServer, type ServiceSpec, type ServerOptions, type EventSchemas } from './server/websocket-server.js'
export type { ServiceHooks } from './server/service-hooks.js'
export type { Connection } from './server/connection.js'
export type { RequestContext, RequestHandler } from './server/request-registry.js'
export type { ServerPlugin } from './server/plugin.js'
export { MetricsPlugin } from './metrics/metrics-plugin.js'
export { McpPlugin } from './mcp/mcp-plugin.js'

// The broker family: the cluster layer, its two seams (a transport, a history store) and the brokers built on them.
export type { Broker } from './broker/broker.js'
export { ClusterBroker, type ClusterBrokerOptions } from './broker/cluster-broker.js'
export type { Transport } from './broker/transport.js'
export type { HistoryStore } from './broker/history-store.js'
export { MemoryBroker } from './broker/memory-broker.js'
export { RedisBroker } from './broker/redis-broker.js'
export { RedisClusterBroker } from './broker/redis-cluster-broker.js'
export { createBroker } from './broker/create-broker.js'

// Settings.
export { loadSettings, parseSettings, SettingsError, type Settings, type SettingsInput } from './config/settings.js'

// The protocol: codes, the shapes a hook sees, the dialects.
export { AppError, CloseCode, ErrorCode } from './protocol/codes.js'
export type { ChannelSpec } from './protocol/channels.js'
export type { JsonObject, Publication } from './protocol/messages.js'
export { envelopeDialect, flatDialect, type Dialect, type FlatDialectOptions } from './dialects/index.js'

// Tokens for the clients of a service.
export { signHmacToken } from './auth/hmac-token.js'
