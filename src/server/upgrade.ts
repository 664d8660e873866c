import { type IncomingMessage, type Server, STATUS_CODES } from 'node:http'
import { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { WebSocketServer as WsServer, type WebSocket } from 'ws'
import type { AccessPolicy } from '../auth/access-policy.js'
import { ErrorCode } from '../protocol/codes.js'
import { AddressSlots } from './address-slots.js'
import { InboundTurns } from './inbound-turns.js'
import { corkForTurn } from './write-coalescer.js'

/** What the upgrade handler needs from the server that owns it. */
export interface UpgradeHost {
  readonly access: AccessPolicy
  /** False once the server drains: a late upgrade is answered 503 instead of a handshake. */
  accepting(): boolean
  /** A completed handshake: the WebSocket and the request that opened it. */
  admit(ws: WebSocket, req: IncomingMessage): void
  /** An upgrade answered 429: its client address held max_connections_per_ip. */
  refusedPerAddress(): void
  debug(fields: Record<string, unknown>, msg: string): void
}

export interface UpgradeOptions {
  /** The paths that speak WebSocket (`/` and `/ws`); any other is answered 404. */
  readonly paths: readonly string[]
  readonly maxPayload: number
  /** Connections one client address may hold at once (max_connections_per_ip). */
  readonly maxPerAddress: number
}

/**
 * The WebSocket upgrade, handled on the HTTP server's `upgrade` event with ws directly rather
 * than through fastify's router: a reconnect storm pays per connection, and the router's request
 * lifecycle (hooks, reply, promise chain) cost more than the handshake itself. The checks are
 * the same as fastify's `socket` routes: the one access policy (src/auth/access-policy.ts),
 * answered with the same `{error, code}` bodies before any handshake.
 */
export class UpgradeHandler {
  readonly #wss: WsServer
  readonly #paths: ReadonlySet<string>
  readonly #host: UpgradeHost
  readonly #slots: AddressSlots
  readonly #maxPerAddress: number
  readonly #turns = new InboundTurns()
  /** The `close` listener of every upgraded socket, shared: gives back the slot of the address it holds. */
  readonly #releaseSlot: (this: Duplex) => void

  constructor(host: UpgradeHost, options: UpgradeOptions) {
    this.#host = host
    this.#paths = new Set(options.paths)
    this.#maxPerAddress = options.maxPerAddress
    const slots = (this.#slots = new AddressSlots(options.maxPerAddress))
    this.#releaseSlot = function releaseSlot(this: Duplex): void {
      const address = (this as Slotted)[kSlot]
      if (address === undefined) return
      ;(this as Slotted)[kSlot] = undefined
      slots.release(address)
    }
    this.#wss = new WsServer({ noServer: true, maxPayload: options.maxPayload, perMessageDeflate: false, clientTracking: false })
  }

  /** Starts answering the upgrades `server` receives. */
  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(req, socket, head))
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const path = q === -1 ? url : url.slice(0, q)
    const known = this.#paths.has(path)
    const refusal = this.#host.access.check(req, known ? 'socket' : 'public')
    if (refusal !== null) {
      this.#host.debug({ url, host: req.headers.host, origin: req.headers.origin, code: refusal.code }, 'upgrade refused by the access policy')
      return answer(socket, refusal.status, { error: refusal.error, code: refusal.code })
    }
    if (!known) return answer(socket, 404, { error: `No route GET ${path}`, code: ErrorCode.NOT_FOUND })
    if (!this.#host.accepting()) return answer(socket, 503, { error: 'Server shutting down', code: ErrorCode.SERVER_ERROR })
    if (socket.destroyed) return
    // Counted before the handshake, so a client at its limit costs no WebSocket, session or welcome.
    const address = this.#host.access.clientAddress(req)
    if (!this.#slots.take(address)) {
      this.#host.refusedPerAddress()
      this.#host.debug({ address, held: this.#slots.held(address) }, 'upgrade refused: max_connections_per_ip')
      const error = `Too many connections from ${address} (max_connections_per_ip ${this.#maxPerAddress})`
      return answer(socket, 429, { error, code: ErrorCode.TOO_MANY_CONNECTIONS })
    }
    // The TCP socket's end frees the slot, however it ends: closed, cut, or refused by ws below.
    ;(socket as Slotted)[kSlot] = address
    socket.on('close', this.#releaseSlot)
    // The 101 answer and the first frame (the welcome) leave in one write: corked until the end
    // of the turn, like every frame (write-coalescer.ts). A refusal's end() flushes the cork.
    if (socket instanceof Socket) corkForTurn(socket)
    // ws completes the handshake at once (no verifyClient), or refuses it (a bad
    // Sec-WebSocket-Key, say) with 400 and destroys the socket; it handles socket errors meanwhile.
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      this.#turns.guard(socket, ws)
      this.#host.admit(ws, req)
    })
  }
}

/** The client address whose slot an upgraded socket holds, until its `close`. */
const kSlot = Symbol('roomcast.slot')
type Slotted = Duplex & { [kSlot]?: string | undefined }

function destroy(this: Duplex): void {
  this.destroy()
}

/** An HTTP answer on a socket that asked to upgrade, then the end of the socket. */
function answer(socket: Duplex, status: number, body: Record<string, string>): void {
  // A client that resets meanwhile must not become an unhandled socket error.
  socket.on('error', destroy)
  if (!socket.writable) return void socket.destroy()
  const json = JSON.stringify(body)
  socket.once('finish', () => socket.destroy())
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      'Connection: close\r\n' +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(json)}\r\n\r\n` +
      json,
  )
}
