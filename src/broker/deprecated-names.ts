import type { Broker, BrokerSink, BrokerState, BrokerStats } from './broker.js'
import { createBroker } from './create-broker.js'
import { MemoryBroker } from './memory-broker.js'
import { RedisBroker, type RedisBrokerOptions } from './redis-broker.js'

/** @deprecated Renamed {@link Broker}. */
export type Bridge = Broker
/** @deprecated Renamed {@link BrokerSink}. */
export type BridgeSink = BrokerSink
/** @deprecated Renamed {@link BrokerState}. */
export type BridgeState = BrokerState
/** @deprecated Renamed {@link BrokerStats}. */
export type BridgeStats = BrokerStats
/** @deprecated Renamed {@link RedisBrokerOptions}. */
export type RedisBridgeOptions = RedisBrokerOptions
/** @deprecated Renamed {@link MemoryBroker}. */
export const MemoryBridge = MemoryBroker
/** @deprecated Renamed {@link RedisBroker}. */
export const RedisBridge = RedisBroker
/** @deprecated Renamed {@link createBroker}. */
export const createBridge = createBroker
