import { once } from 'node:events'
import WebSocket from 'ws'

export type Frame = Record<string, unknown> & {
  type?: string
  event?: string | null
  data?: Record<string, unknown>
  correlation_id?: string | null
  error_code?: string | null
  error_message?: string | null
  room?: string | null
}

/**
 * A test client over a real socket: frames are queued as they arrive, so a test waits for the
 * next frame (or the next one matching a predicate) on events, never on sleeps.
 */
export class TestClient {
  readonly ws: WebSocket
  readonly raw: string[] = []
  /** Whether each received frame (same index as `raw`) was a binary frame. */
  readonly binary: boolean[] = []
  readonly #queue: Frame[] = []
  readonly #waiters: { pred: (f: Frame) => boolean; resolve: (f: Frame) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = []
  closed: Promise<{ code: number; reason: string }>

  constructor(url: string, options?: WebSocket.ClientOptions) {
    this.ws = new WebSocket(url, options)
    this.ws.on('error', () => {})
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        const why = new Error(`socket closed (${code} ${reason.toString()})`)
        for (const w of this.#waiters.splice(0)) {
          clearTimeout(w.timer)
          w.reject(why)
        }
        resolve({ code, reason: reason.toString() })
      })
    })
    this.ws.on('message', (data, isBinary) => {
      const text = data.toString()
      this.raw.push(text)
      this.binary.push(isBinary)
      const frame = JSON.parse(text) as Frame
      const i = this.#waiters.findIndex((w) => w.pred(frame))
      if (i !== -1) {
        const [w] = this.#waiters.splice(i, 1)
        clearTimeout(w!.timer)
        w!.resolve(frame)
      } else {
        this.#queue.push(frame)
      }
    })
  }

  /** Connects and (by default) consumes the welcome frame. */
  static async connect(url: string, opts: { welcome?: boolean } & WebSocket.ClientOptions = {}): Promise<TestClient> {
    const c = new TestClient(url, opts)
    await once(c.ws, 'open')
    if (opts.welcome !== false) await c.next((f) => f.event === 'session.created')
    return c
  }

  /** The next frame matching `pred` (already queued or still to come). */
  next(pred: (f: Frame) => boolean = () => true, timeoutMs = 5000): Promise<Frame> {
    const i = this.#queue.findIndex(pred)
    if (i !== -1) return Promise.resolve(this.#queue.splice(i, 1)[0]!)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const j = this.#waiters.findIndex((w) => w.resolve === resolve)
        if (j !== -1) this.#waiters.splice(j, 1)
        reject(new Error(`no matching frame within ${timeoutMs} ms; queued: ${JSON.stringify(this.#queue).slice(0, 500)}`))
      }, timeoutMs)
      this.#waiters.push({ pred, resolve, reject, timer })
    })
  }

  /** Frames received but not yet consumed. */
  get pending(): readonly Frame[] {
    return this.#queue
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
  }

  /** Sends a request and waits for the response or error carrying its correlation id. */
  async request(event: string, data: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Promise<Frame> {
    const correlation_id = `c-${Math.random().toString(36).slice(2)}`
    this.send({ type: 'request', event, data, correlation_id, ...extra })
    return this.next((f) => f.correlation_id === correlation_id)
  }

  async subscribe(channel: string): Promise<Frame> {
    return this.request('subscribe', { channel })
  }

  /** Sends `{"type":"ping"}` and waits for the pong: proof the connection is alive and answering. */
  async alive(): Promise<void> {
    const id = `p-${Math.random().toString(36).slice(2)}`
    this.send({ type: 'ping', id })
    await this.next((f) => f.type === 'pong' && f.correlation_id === id)
  }

  /** Sends a frame and waits for the error frame it provokes. */
  async errorFor(frame: unknown): Promise<Frame> {
    this.send(frame)
    return this.next((f) => f.type === 'error')
  }

  close(): Promise<{ code: number; reason: string }> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close()
    return this.closed
  }
}
