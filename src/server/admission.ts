import type { IncomingMessage } from 'node:http'
import type { WebSocket } from 'ws'
import type { AccessPolicy } from '../auth/access-policy.js'
import type { Identity } from '../auth/identity.js'
import type { Delivery } from '../delivery/delivery.js'
import { CloseCode, CloseReason } from '../protocol/codes.js'
import type { WelcomeInfo } from '../protocol/messages.js'
import { Connection } from './connection.js'
import type { Lifecycle } from './server-view.js'
import type { ServiceSpec } from './service-spec.js'
import type { CoreHooks } from './service-hooks.js'
import type { SessionHost } from './session/host.js'
import { Session, sessionOf } from './session/session.js'

const kConnection = Symbol('roomcast.connection')
/** A WebSocket admission made a Connection for (set before any of its listeners can run). */
type Admitted = WebSocket & { [kConnection]?: Connection }

export type ConnectionCallback = (conn: Connection) => void

/** What admission needs from the server: its state, spec and policies; the server is also each connection's SessionHost. */
export interface AdmissionHost extends SessionHost {
  readonly name: string
  readonly spec: Pick<ServiceSpec, 'welcome' | 'autoSubscribe'>
  readonly state: Lifecycle
  readonly access: AccessPolicy
  readonly delivery: Delivery
}

/** The rooms and hooks admission works with, from the modules that own them (never back through the server). */
export interface AdmissionRooms {
  /** Throws INVALID_CHANNEL / FORBIDDEN unless the connection may read the channel. */
  checkRead(conn: Connection, channel: string): void
  /** Joins the room, enforcing max_subscriptions. */
  join(conn: Connection, channel: string): void
  /** Settles once the cluster delivers the room here (confirmed, failed or timed out, as a subscribe waits); null when it does already. */
  whenSubscribed(channel: string): Promise<void> | null
  leaveAll(conn: Connection): void
  /** The connection's identity changed: its presence entries show the new one. */
  identified(conn: Connection): void
  readonly hooks: Pick<CoreHooks, 'onIdentify' | 'onDisconnect'>
}

/**
 * The server's connections, from the handshake to the cleanup: admission (accepting, capacity),
 * the welcome, auto-subscribe and identity channels, the connect and disconnect callbacks, the
 * slow-consumer cut and the keepalive.
 */
export class Admission {
  readonly #host: AdmissionHost
  readonly #rooms: AdmissionRooms
  readonly #connections = new Map<string, Connection>()
  readonly #onDisconnect: ConnectionCallback[] = []
  // Shared by every connection of this server (a connection costs no closures for them).
  readonly #closeSlow = (conn: Connection): void => this.closeSlow(conn)
  readonly #onSocketError: (this: WebSocket, err: Error) => void
  readonly #onSocketClose: (this: WebSocket) => void

  constructor(host: AdmissionHost, rooms: AdmissionRooms) {
    this.#host = host
    this.#rooms = rooms
    this.#onSocketError = function onSocketError(this: WebSocket, err: Error): void {
      host.log.debug({ err, connection: (this as Admitted)[kConnection]?.id }, 'socket error')
    }
    const cleanup = (conn: Connection): void => this.#cleanup(conn)
    this.#onSocketClose = function onSocketClose(this: WebSocket): void {
      const conn = (this as Admitted)[kConnection]
      // Before anything else: what still runs for it later (a welcome waiting for the broker, an
      // auth being verified, frames read before the close) sees a closed connection, not an open one.
      conn?.closed()
      sessionOf(this)?.end()
      if (conn !== undefined) cleanup(conn)
    }
  }

  /** The admitted connections by id; a connection leaves once its socket closed. */
  get connections(): ReadonlyMap<string, Connection> {
    return this.#connections
  }

  onDisconnect(cb: ConnectionCallback): void {
    this.#onDisconnect.push(cb)
  }

  /** A completed handshake: refused while not running or at capacity, else a session starts. */
  admit(socket: WebSocket, req: IncomingMessage): void {
    const host = this.#host
    // Listeners first, before anything can await.
    const conn = new Connection({
      id: host.dialect.newConnectionId(),
      socket,
      remoteAddress: host.access.clientAddress(req),
      secure: host.access.isSecure(req),
      // The upgrade checked the origin (UpgradeHandler): only what protected routes add is left.
      operator: host.access.operator(req),
      maxBuffered: host.settings.max_buffered_bytes,
      onSlow: this.#closeSlow,
    })
    ;(socket as Admitted)[kConnection] = conn
    socket.on('error', this.#onSocketError)
    if (host.state !== 'running') {
      conn.close(CloseCode.GOING_AWAY, CloseReason.SHUTTING_DOWN)
      return
    }
    if (this.#connections.size >= host.settings.max_connections) {
      host.stats.rejectedAtCapacity++
      conn.close(CloseCode.TRY_AGAIN_LATER, CloseReason.AT_CAPACITY)
      return
    }
    this.#connections.set(conn.id, conn)
    host.stats.connectionsTotal++
    const session = new Session(host, conn)
    socket.on('close', this.#onSocketClose)
    session.start(req.url)
  }

  /** The welcome's content for this connection. */
  welcomeFor(conn: Connection): WelcomeInfo {
    const host = this.#host
    return {
      connectionId: conn.id,
      server: host.name,
      message: host.spec.welcome,
      authenticated: conn.identity !== null,
      secure: conn.secure,
      rateLimit: host.settings.message_rate_limit,
    }
  }

  /**
   * The connection is about to get its welcome: joins the auto-subscribe channels. Returns a
   * promise when the broker has yet to confirm one of them (the welcome waits for it, as a
   * subscribe's answer does), null when every room is heard here already (the welcome goes at once).
   */
  welcoming(conn: Connection): Promise<void> | null {
    return this.#joinAll(conn, this.#host.spec.autoSubscribe ?? [])
  }

  /** The connection got its welcome (or, when it waits, what is sent queues behind it): attach its tracked deliveries. */
  admitted(conn: Connection): void {
    this.#host.delivery.attach(conn, conn.identity?.userId ?? null)
  }

  /** Joins a channel on the server's initiative; a refusal is logged, not sent. */
  autoJoin(conn: Connection, channel: string): void {
    this.#autoJoin(conn, channel)
  }

  /** autoJoin, returning what the broker's subscribe of the room settles with (null: nothing to wait for, or refused). */
  #autoJoin(conn: Connection, channel: string): Promise<void> | null {
    try {
      this.#rooms.checkRead(conn, channel)
      this.#rooms.join(conn, channel)
    } catch (err) {
      this.#host.log.debug({ err, connection: conn.id, channel }, 'auto-subscribe refused')
      return null
    }
    return this.#rooms.whenSubscribed(channel)
  }

  /** Joins every channel; a promise settling once the broker confirmed those it had yet to, or null when none. */
  #joinAll(conn: Connection, channels: Iterable<string>): Promise<void> | null {
    let waits: Promise<void>[] | null = null
    for (const channel of channels) {
      const wait = this.#autoJoin(conn, channel)
      if (wait !== null) (waits ??= []).push(wait)
    }
    if (waits === null) return null
    return waits.length === 1 ? (waits[0] as Promise<void>) : Promise.all(waits).then(() => undefined)
  }

  /**
   * Attaches a verified identity and joins the channels the dialect gives it. Returns a promise
   * when the broker has yet to confirm one of those joins (the auth answer waits for it), else null.
   */
  identify(conn: Connection, identity: Identity): Promise<void> | null {
    const before = conn.identity
    conn.identity = identity
    if (before?.userId !== identity.userId || before.sessionId !== identity.sessionId) this.#rooms.identified(conn)
    const channels: string[] = []
    // A locked service refused the auto-subscribe channels to the anonymous connection it welcomed: now they may open.
    if (conn.phase === 'open') {
      for (const channel of this.#host.spec.autoSubscribe ?? []) if (!conn.subscriptions.has(channel)) channels.push(channel)
    }
    channels.push(...this.#host.dialect.identityChannels(identity))
    const joined = this.#joinAll(conn, channels)
    // Its pending tracked events follow the identity (docs/protocol.md A.8).
    this.#host.delivery.attach(conn, identity.userId)
    this.#rooms.hooks.onIdentify(conn)
    return joined
  }

  /** Cuts a connection whose send buffer went over max_buffered_bytes (or whose replay did). */
  closeSlow(conn: Connection): void {
    if (conn.phase === 'closing') return
    this.#host.stats.slowConsumerCloses++
    this.#host.log.warn({ connection: conn.id, buffered: conn.socket.bufferedAmount, code: CloseCode.SLOW_CONSUMER }, 'slow consumer: connection cut')
    // ws keeps frame order, so a 4008 close frame would wait behind the very backlog the client
    // is not reading: cut the TCP connection now and free the backlog (docs/errors.md, 4008).
    conn.cut()
  }

  /** Starts the dialect's keepalive over the admitted connections; returns its stop. */
  startKeepalive(): () => void {
    const host = this.#host
    return host.dialect.startKeepalive(
      {
        connections: () => this.#connections.values(),
        sendFramed: (conn, type, frame) => {
          if (conn.sendFramed(frame)) host.stats.countOut(type)
        },
        onTimeout: (conn) => {
          host.stats.heartbeatTimeouts++
          host.log.info({ connection: conn.id }, 'heartbeat timeout')
        },
      },
      host.settings,
    )
  }

  #cleanup(conn: Connection): void {
    if (!this.#connections.delete(conn.id)) return
    this.#rooms.leaveAll(conn)
    this.#host.delivery.detach(conn)
    this.#rooms.hooks.onDisconnect(conn)
    for (const cb of this.#onDisconnect) {
      try {
        cb(conn)
      } catch (err) {
        this.#host.log.error({ err }, 'disconnect callback failed')
      }
    }
  }
}
