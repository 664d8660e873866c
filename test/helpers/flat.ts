import { once } from 'node:events'
import type WebSocket from 'ws'
import { type Frame, TestClient } from './client.js'

/** A raw `ws` client of a flat-dialect service: connects, keeps the `connected` frame, waits on frames. */
export class FlatClient extends TestClient {
  connected: Frame | null = null
  #n = 0

  /** Connects to `url` + query (`agent_id`, `session_id`, `token`) and waits for the `connected` frame. */
  static async open(url: string, query: Record<string, string> = {}, options?: WebSocket.ClientOptions): Promise<FlatClient> {
    const u = new URL(url)
    for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v)
    const c = new FlatClient(u.href, options)
    await once(c.ws, 'open')
    c.connected = await c.next((f) => f.type === 'connected')
    return c
  }

  /** Sends a frame with a fresh `id` and waits for the ack carrying it. */
  async op(frame: Record<string, unknown>): Promise<Frame> {
    const id = `op-${++this.#n}`
    this.send({ ...frame, id })
    return this.next((f) => f.type === 'ack' && f.id === id)
  }

  subscribeFlat(channel: string): Promise<Frame> {
    return this.op({ type: 'subscribe', channel })
  }

  publishFlat(channel: string, event: string, data: unknown): Promise<Frame> {
    return this.op({ type: 'publish', channel, event, data })
  }

  /** The next event frame of `event` (on `channel`, when given). */
  event(event: string, channel?: string, timeoutMs?: number): Promise<Frame> {
    return this.next((f) => f.type === 'event' && f.event === event && (channel === undefined || f.channel === channel), timeoutMs)
  }

  /** A ping answered with its timestamp: the connection is open and serving. */
  async pingFlat(): Promise<void> {
    const timestamp = Date.now() + Math.random()
    this.send({ type: 'ping', timestamp })
    await this.next((f) => f.type === 'pong' && f.timestamp === timestamp)
  }

  /** Sends a frame and waits for the error frame (`{error, code, timestamp}`) it provokes. */
  async flatError(frame: unknown): Promise<Frame> {
    this.send(frame)
    return this.next((f) => typeof f.error === 'string' && typeof f.code === 'string' && f.type === undefined)
  }
}
