import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { WebSocketServer, type WebSocket } from 'ws'

/**
 * A hand-written server at the client's seam: a real `ws` server on port 0 whose
 * behaviour each test scripts, for what a roomcast service never does on purpose (stay silent,
 * re-send a frame, refuse every connection).
 */
export class FakeServer {
  readonly wss: WebSocketServer
  readonly sockets: WebSocket[] = []
  /** Every text frame received, parsed. */
  readonly received: Record<string, unknown>[] = []
  connections = 0

  private constructor(wss: WebSocketServer) {
    this.wss = wss
  }

  static async start(onConnection: (ws: WebSocket, n: number) => void): Promise<FakeServer> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
    await once(wss, 'listening')
    const fake = new FakeServer(wss)
    wss.on('connection', (ws) => {
      fake.sockets.push(ws)
      ws.on('message', (raw) => fake.received.push(JSON.parse(String(raw)) as Record<string, unknown>))
      onConnection(ws, ++fake.connections)
    })
    return fake
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}/ws`
  }

  async close(): Promise<void> {
    for (const ws of this.sockets) ws.terminate()
    await new Promise<void>((resolve) => this.wss.close(() => resolve()))
  }
}

/** The flat dialect's connected frame. */
export const connected = (id = 'ws_test_1') => JSON.stringify({ type: 'connected', client_id: id, timestamp: Date.now() })
