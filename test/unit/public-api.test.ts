import { describe, expect, it } from 'vitest'
import * as api from '../../src/index.js'

describe('the public API (src/index.ts, the package entry roomcast)', () => {
  it('exports exactly the values a user of the package needs; internals stay in their modules', () => {
    // Types are not visible at run time; CHANGELOG.md lists them. A name added here is API.
    expect(Object.keys(api).sort()).toEqual(
      [
        'AppError',
        'ClusterBroker',
        'CloseCode',
        'ErrorCode',
        'McpPlugin',
        'MemoryBroker',
        'MetricsPlugin',
        'RedisBroker',
        'RedisClusterBroker',
        'SettingsError',
        'WebSocketServer',
        'createBroker',
        'envelopeDialect',
        'flatDialect',
        'loadSettings',
        'parseSettings',
        'signHmacToken',
      ].sort(),
    )
  })
})
