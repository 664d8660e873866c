import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { freePort, freeServicePorts } from '../helpers/supervisor.js'

// The kernel hands ports of this range to outgoing connections: a port a test releases and binds
// again later (a Redis restarted on its port) could be taken meanwhile by any client's source port.
const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number) as [number, number]

describe('test ports', () => {
  it('freePort and freeServicePorts pick ports outside the ephemeral range', async () => {
    const ports = [await freePort(), await freePort(), ...(await freeServicePorts(3))]
    expect(ports.filter((p) => p >= low && p <= high)).toEqual([])
    expect(new Set(ports).size).toBe(ports.length)
  })
})
