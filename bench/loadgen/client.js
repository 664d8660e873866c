// One load-generator connection speaking one of the benchmarked wire protocols. Deliveries
// are recognised by a `"seq":` field in the payload, read straight from the frame's bytes so
// the generator never JSON-parses a delivery (it must not be the bottleneck).
import { performance } from 'node:perf_hooks'
import WebSocket from 'ws'

const SEQ = Buffer.from('"seq":')

/** The sequence number inside a delivery frame, or -1 when the frame is not a delivery. */
export function seqOf(buf) {
  const i = buf.indexOf(SEQ)
  if (i < 0) return -1
  let n = 0
  for (let j = i + SEQ.length; j < buf.length; j++) {
    const c = buf[j]
    if (c < 48 || c > 57) break
    n = n * 10 + c - 48
  }
  return n
}

/**
 * The wire protocols. `ready` says whether a frame completes the handshake (and answers it
 * when needed); `control` consumes protocol chatter such as Socket.IO pings.
 */
export const PROTOCOLS = {
  roomcast: {
    path: '/ws',
    readyOnOpen: false,
    ready: () => true, // the welcome event is the first frame
    control: () => false,
    channel: (name) => (name === 'shared' ? 'global' : `patterns:${name}`),
    sub: (ch, id) => `{"type":"request","event":"subscribe","data":{"channel":"${ch}"},"correlation_id":"s${id}"}`,
    subSince: (ch, id, since) => `{"type":"request","event":"subscribe","data":{"channel":"${ch}","since":${JSON.stringify(since)}},"correlation_id":"s${id}"}`,
    pub: (ch, payload) => `{"type":"request","event":"publish","data":{"channel":"${ch}","event":"aggregation.completed","data":${payload}}}`,
    req: (id) => `{"type":"request","event":"get_status","correlation_id":"r${id}"}`,
  },
  ws: {
    path: '/',
    readyOnOpen: true,
    ready: () => true,
    control: () => false,
    channel: (name) => name,
    sub: (ch) => `{"op":"sub","ch":"${ch}"}`,
    pub: (ch, payload) => `{"op":"pub","ch":"${ch}","d":${payload}}`,
    req: (id) => `{"op":"req","id":${id}}`,
  },
  socketio: {
    path: '/socket.io/?EIO=4&transport=websocket',
    readyOnOpen: false,
    // Engine.IO open packet "0{…}" → connect to the main namespace with "40"; "40{…}" is the answer.
    ready(client, buf) {
      if (buf[0] === 0x34 && buf[1] === 0x30) return true
      if (buf[0] === 0x30) client.ws.send('40')
      return false
    },
    // Engine.IO ping "2" → pong "3".
    control(client, buf) {
      if (buf.length === 1 && buf[0] === 0x32) {
        client.ws.send('3')
        return true
      }
      return false
    },
    channel: (name) => name,
    sub: (ch, id) => `42${id}["sub","${ch}"]`,
    pub: (ch, payload) => `42["pub","${ch}",${payload}]`,
    req: (id) => `42${id}["req"]`,
  },
}

// The plain reference with --welcome: the handshake completes with its welcome frame.
PROTOCOLS['ws-welcome'] = { ...PROTOCOLS.ws, readyOnOpen: false }

const ID_PREFIX = Buffer.from('{"id":"')

/** The envelope's `id` (the first key of every roomcast frame), read from the bytes. */
function envelopeId(buf) {
  if (buf.compare(ID_PREFIX, 0, ID_PREFIX.length, 0, ID_PREFIX.length) !== 0) return null
  const end = buf.indexOf(0x22, ID_PREFIX.length)
  return end < 0 ? null : buf.toString('latin1', ID_PREFIX.length, end)
}

// roomcast with tracked events: every delivery is acknowledged with its id, as a client must.
PROTOCOLS['roomcast-ack'] = {
  ...PROTOCOLS.roomcast,
  ack: (buf) => `{"type":"ack","data":{"message_id":"${envelopeId(buf)}"}}`,
}

// The same, with the acks of one read sent as one frame (`message_ids`), as the TypeScript client does.
PROTOCOLS['roomcast-ack-batch'] = {
  ...PROTOCOLS.roomcast,
  ackId: envelopeId,
  acks: (ids) => (ids.length === 1 ? `{"type":"ack","data":{"message_id":"${ids[0]}"}}` : `{"type":"ack","data":{"message_ids":["${ids.join('","')}"]}}`),
}

/** The secret of bench/settings/roomcast-tracked-redis.yaml: its clients authenticate, so each is an identity. */
const BENCH_SECRET = 'roomcast-bench-secret-0123456789abcdef'

/** An auth request naming user `bench-<index>` (a recipient whose pending events are recorded per identity). */
async function authFrame(index) {
  const { SignJWT } = await import('jose')
  const token = await new SignJWT({ user_id: `bench-${index}`, permissions: [] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + 3600)
    .sign(Buffer.from(BENCH_SECRET))
  return `{"type":"request","event":"auth","data":{"token":"${token}"},"correlation_id":"a${index}"}`
}

// Tracked, the clients authenticated (an identity each, as agents are): what the durable record costs.
PROTOCOLS['roomcast-ack-id'] = { ...PROTOCOLS['roomcast-ack'], identify: authFrame }
PROTOCOLS['roomcast-ack-batch-id'] = { ...PROTOCOLS['roomcast-ack-batch'], identify: authFrame }

/** roomcast/client's default ackDelay: acks wait this long and leave together. */
const ACK_DELAY_MS = 20
/** Clients with acks waiting, and the one timer that sends them all. */
const ackers = new Set()
let ackFlush = null

function flushAcks() {
  ackFlush = null
  for (const c of ackers) {
    const ids = c.acksDue
    c.acksDue = []
    if (c.ws.readyState === WebSocket.OPEN) c.ws.send(c.proto.acks(ids))
  }
  ackers.clear()
}

/** A connection. `onDelivery(client, seq)` sees deliveries; replies resolve `call`. */
export class Client {
  constructor(proto, index) {
    this.proto = proto
    this.index = index
    this.ws = null
    this.lastSeq = -1
    this.received = 0
    this.nonText = 0
    this.isReady = false
    this.closedEarly = false
    this.onDelivery = null
    this.pending = null
    this.nextId = 1
  }

  /** Opens the connection; resolves once the protocol handshake is complete. */
  open(base, timeoutMs = 15000) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(base + this.proto.path, { perMessageDeflate: false, skipUTF8Validation: true })
      this.ws = ws
      // How far a failed handshake got: the TCP connect, the 101 answer, or neither (a storm's error causes).
      let stage = 'before TCP connect'
      ws._req?.once('socket', (s) => s.once('connect', () => (stage = 'after TCP connect, before 101')))
      ws.once('upgrade', () => (stage = 'after 101, before the first frame'))
      // The timer runs before the turn's I/O: on a starved load generator the answer may already
      // wait in the socket when it fires. setImmediate looks again after that I/O is read, so the
      // generator's own lag does not count as the server's failure.
      const timer = setTimeout(() => setImmediate(() => fail(new Error(`handshake timeout (${timeoutMs / 1000} s), ${stage}`))), timeoutMs)
      const done = () => {
        clearTimeout(timer)
        this.isReady = true
        resolve(this)
      }
      const fail = (err) => {
        clearTimeout(timer)
        if (!this.isReady) {
          ws.terminate()
          reject(err)
        }
      }
      ws.on('error', (err) => fail(err.code === undefined ? err : new Error(`${err.code} (${err.message})`)))
      ws.on('close', (code) => {
        if (!this.isReady) fail(new Error(`closed ${code} before ready`))
        else {
          this.closedEarly = true
          this.closeCode = code
        }
      })
      ws.on('open', () => {
        if (this.proto.readyOnOpen) done()
      })
      ws.on('message', (buf, isBinary) => {
        if (!this.isReady) {
          if (this.proto.ready(this, buf)) done()
          return
        }
        if (this.proto.control(this, buf)) return
        const seq = seqOf(buf)
        if (seq >= 0) {
          if (isBinary) this.nonText++
          this.received++
          if (this.proto.ack !== undefined) this.ack(buf)
          else if (this.proto.acks !== undefined) this.ackLater(buf)
          this.onDelivery(this, seq)
          return
        }
        const p = this.pending
        if (p !== null) {
          this.pending = null
          p(buf)
        }
      })
    })
  }

  /**
   * Acknowledges a tracked delivery. The acks of one event-loop turn leave in one write (the
   * socket is corked until the next tick), as the server coalesces its own writes: a burst of
   * deliveries read at once is answered with one segment instead of one per ack.
   */
  ack(buf) {
    const socket = this.ws._socket
    if (!this.acksCorked && socket !== undefined) {
      this.acksCorked = true
      socket.cork()
      process.nextTick(() => {
        this.acksCorked = false
        socket.uncork()
      })
    }
    this.ws.send(this.proto.ack(buf))
  }

  /**
   * Acknowledges a tracked delivery later, with the others of the next ACK_DELAY_MS, in one frame
   * (`message_ids`), as roomcast/client does with its default ackDelay.
   */
  ackLater(buf) {
    if (this.acksDue === undefined) this.acksDue = []
    if (this.acksDue.length === 0) ackers.add(this)
    this.acksDue.push(this.proto.ackId(buf))
    if (ackFlush === null) ackFlush = setTimeout(flushAcks, ACK_DELAY_MS)
  }

  /** Sends a frame and resolves with the next frame that is not a delivery. */
  call(frame) {
    return new Promise((resolve) => {
      this.pending = resolve
      this.ws.send(frame)
    })
  }

  async subscribe(name) {
    if (this.proto.identify !== undefined && this.identified !== true) {
      this.identified = true
      await this.call(await this.proto.identify(this.index))
    }
    return this.call(this.proto.sub(this.proto.channel(name), this.nextId++))
  }

  close() {
    this.closedEarly = false
    this.ws.terminate()
  }
}

/**
 * Opens `n` clients with at most `concurrency` handshakes in flight; counts failures by cause
 * (an HTTP status, a close code, a socket error, a timeout and how far the handshake got).
 */
export async function openMany(proto, bases, n, concurrency, timeoutMs = 15000) {
  const clients = []
  let next = 0
  let errors = 0
  const firstErrors = []
  /** Each failure's cause (its message with numbers kept: an HTTP status, a close code) → count. */
  const causes = {}
  /** Each completed handshake's time (ms), from the connect to ready. */
  const took = []
  const worker = async () => {
    while (next < n) {
      const i = next++
      const c = new Client(proto, i)
      const t0 = performance.now()
      try {
        await c.open(bases[i % bases.length], timeoutMs)
        clients.push(c)
        took.push(performance.now() - t0)
      } catch (err) {
        errors++
        if (firstErrors.length < 3) firstErrors.push(err.message)
        causes[err.message] = (causes[err.message] ?? 0) + 1
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker))
    took.sort((a, b) => a - b)
  const at = (q) => (took.length === 0 ? null : Math.round(took[Math.min(took.length - 1, Math.floor(q * took.length))]))
  return { clients, errors, firstErrors, causes, handshakeMs: { p50: at(0.5), p99: at(0.99), max: at(1) } }
}
