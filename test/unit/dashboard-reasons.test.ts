import { createServer, type Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { pollService } from '../../src/dashboard/status-poll.js'

const target = (port: number) => ({ name: 'x', dialect: 'envelope', http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}/ws` })

describe('a down card says where the dashboard looked and why (docs/dashboard.md)', () => {
  it('a closed port: connection refused', async () => {
    const server = createServer().listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    const port = (server.address() as { port: number }).port
    await new Promise((resolve) => server.close(resolve))
    expect(await pollService(target(port))).toEqual({ name: 'x', up: false, error: `unreachable at 127.0.0.1:${port}: connection refused` })
  })

  it('a port that accepts and never answers: no answer within the timeout', async () => {
    const sockets: Socket[] = []
    const server = createServer((socket) => void sockets.push(socket)).listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    const port = (server.address() as { port: number }).port
    try {
      expect(await pollService(target(port), 200)).toEqual({ name: 'x', up: false, error: `unreachable at 127.0.0.1:${port}: no answer within 0.2 s` })
    } finally {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
