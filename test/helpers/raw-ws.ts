import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { connect, type Socket } from 'node:net'

/** One server frame as it came off the wire. */
export interface RawFrame {
  readonly opcode: number
  readonly payload: Buffer
}

/**
 * A WebSocket client written over a bare TCP socket, so a test controls reading byte by byte:
 * `socket.pause()` stops reading for real (the kernel buffers fill up), and every frame the
 * server sent — close frames included — is seen exactly as sent.
 */
export class RawWsClient {
  readonly socket: Socket
  readonly frames: RawFrame[] = []
  /** Resolves once the TCP connection has ended (EOF, reset or close), with the error if any. */
  readonly ended: Promise<Error | null>
  #buf = Buffer.alloc(0)
  #upgraded = false
  readonly #watchers: (() => void)[] = []

  private constructor(socket: Socket) {
    this.socket = socket
    this.ended = new Promise((resolve) => {
      let error: Error | null = null
      socket.on('error', (err) => (error = err))
      socket.on('close', () => {
        resolve(error)
        this.#notify()
      })
    })
    socket.on('data', (chunk: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, chunk])
      this.#parse()
      this.#notify()
    })
  }

  /**
   * Connects and completes the opening handshake on `path`. `pipelined` text frames go in the
   * same write as the upgrade request: the server has them buffered before its session starts.
   */
  static async connect(port: number, path = '/ws', pipelined: readonly string[] = []): Promise<RawWsClient> {
    const socket = connect(port, '127.0.0.1')
    const client = new RawWsClient(socket)
    await once(socket, 'connect')
    const key = randomBytes(16).toString('base64')
    const request =
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`
    socket.write(Buffer.concat([Buffer.from(request), ...pipelined.map(maskedText)]))
    await client.#until(() => client.#upgraded)
    return client
  }

  /** Sends one masked text frame (as every client must). */
  sendText(text: string): void {
    this.socket.write(maskedText(text))
  }

  /** Sends masked text frames, all of them in one write (pipelined requests in one TCP segment). */
  sendTexts(texts: readonly string[]): void {
    this.socket.write(Buffer.concat(texts.map(maskedText)))
  }

  /** The JSON of every text frame so far. */
  texts(): Record<string, unknown>[] {
    return this.frames.filter((f) => f.opcode === 1).map((f) => JSON.parse(f.payload.toString()) as Record<string, unknown>)
  }

  /** Waits for a text frame matching `pred`. */
  async next(pred: (f: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    await this.#until(() => this.texts().some(pred))
    return this.texts().find(pred)!
  }

  #until(done: () => boolean): Promise<void> {
    if (done()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const check = () => {
        if (done()) resolve()
        else if (this.socket.destroyed) reject(new Error('connection ended first'))
        else this.#watchers.push(check)
      }
      this.#watchers.push(check)
    })
  }

  #notify(): void {
    for (const w of this.#watchers.splice(0)) w()
  }

  /** Reads the 101 answer, then whole frames; a frame cut off by the end of the stream stays unparsed. */
  #parse(): void {
    if (!this.#upgraded) {
      const end = this.#buf.indexOf('\r\n\r\n')
      if (end === -1) return
      const status = this.#buf.subarray(0, end).toString().split('\r\n')[0]
      if (!/^HTTP\/1\.1 101 /.test(status ?? '')) throw new Error(`handshake refused: ${status}`)
      this.#upgraded = true
      this.#buf = this.#buf.subarray(end + 4)
    }
    for (;;) {
      if (this.#buf.length < 2) return
      const opcode = this.#buf[0]! & 0x0f
      let len = this.#buf[1]! & 0x7f
      let at = 2
      if (len === 126) {
        if (this.#buf.length < 4) return
        len = this.#buf.readUInt16BE(2)
        at = 4
      } else if (len === 127) {
        if (this.#buf.length < 10) return
        len = Number(this.#buf.readBigUInt64BE(2))
        at = 10
      }
      if (this.#buf.length < at + len) return
      this.frames.push({ opcode, payload: this.#buf.subarray(at, at + len) })
      this.#buf = this.#buf.subarray(at + len)
    }
  }
}

/** One masked text frame (payloads under 64 KiB). */
function maskedText(text: string): Buffer {
  const payload = Buffer.from(text)
  const mask = randomBytes(4)
  const len = payload.length
  const head = len < 126 ? Buffer.from([0x81, 0x80 | len]) : Buffer.from([0x81, 0x80 | 126, len >> 8, len & 0xff])
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!))
  return Buffer.concat([head, mask, masked])
}
