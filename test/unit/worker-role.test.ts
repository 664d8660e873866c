import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { IpcBroker } from '../../src/broker/ipc-broker.js'
import { RedisBroker } from '../../src/broker/redis-broker.js'
import { RedisClusterBroker } from '../../src/broker/redis-cluster-broker.js'
import { StopSignals } from '../../src/cli/stop-signals.js'
import { WorkerRole } from '../../src/cli/worker-role.js'
import { parseSettings } from '../../src/index.js'

// Which broker a worker of `workers: N` builds (nothing is started: no connection is made). The
// chaos run found workers on a Redis Cluster using the primary's ipc relay: each instance then
// had its own history and its own subscribers, and the instances never met.
describe('a worker\'s broker', () => {
  const log = pino({ level: 'silent' })
  const role = new WorkerRole(new StopSignals(log, { watchParent: false }))

  it('is the Redis Cluster broker when redis.cluster names the nodes', () => {
    expect(role.broker(parseSettings({ redis: { cluster: ['127.0.0.1:7000', '127.0.0.1:7001'] } }), log)).toBeInstanceOf(RedisClusterBroker)
  })

  it('is the Redis broker with redis.url, and the primary\'s ipc relay without Redis', () => {
    expect(role.broker(parseSettings({ redis: { url: 'redis://127.0.0.1:6379' } }), log)).toBeInstanceOf(RedisBroker)
    expect(role.broker(parseSettings({}), log)).toBeInstanceOf(IpcBroker)
  })
})
