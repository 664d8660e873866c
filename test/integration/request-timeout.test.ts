import { connect } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { TestClient } from '../helpers/client.js'
import { type Observed, startObserved } from '../helpers/observed.js'

/**
 * Opens a raw TCP connection, sends a chunked POST's headers and then one body byte every
 * `everyMs`, never finishing; resolves with what the server wrote once it closes the socket.
 */
function trickle(port: number, path: string, everyMs: number): Promise<{ answer: string; bytesSent: number }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let answer = ''
    let bytesSent = 0
    let timer: NodeJS.Timeout | undefined
    socket.on('connect', () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`)
      timer = setInterval(() => {
        if (socket.writable) socket.write('1\r\n \r\n')
        bytesSent++
      }, everyMs)
    })
    socket.on('data', (d) => (answer += d.toString()))
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') reject(err)
    })
    socket.on('close', () => {
      clearInterval(timer)
      resolve({ answer, bytesSent })
    })
  })
}

describe('http_request_timeout bounds a request in time on both ports', () => {
  let s: Observed | undefined
  afterEach(async () => {
    await s?.server.close()
    s = undefined
  })

  it('a chunked body trickled one byte at a time gets 408 and a closed socket; WebSocket clients stay', async () => {
    s = await startObserved('workflow', { http_request_timeout: 0.3 })
    const c = await TestClient.connect(s.url)
    const [ws, mcp] = await Promise.all([trickle(s.server.port, '/publish', 50), trickle(s.mcp.port, '/mcp', 50)])
    for (const { answer, bytesSent } of [ws, mcp]) {
      expect(answer).toMatch(/^HTTP\/1\.1 408 /)
      expect(bytesSent).toBeGreaterThan(1) // it was trickling when the bound hit, not idle
    }
    expect(s.server.stats.broadcasts).toBe(0)
    // Upgraded connections are older than the bound by now and must not be swept with the requests.
    await c.alive()
    await c.close()
  })
})
