import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, LogController } from 'fastify'
import { pino, type Logger } from 'pino'
import type { WebSocket } from 'ws'
import type { z } from 'zod'
import { AccessPolicy } from '../auth/access-policy.js'
import type { Identity } from '../auth/identity.js'
import { canRead, canWrite } from '../auth/permissions.js'
import type { Broker, BrokerSink, DirectOutcome, PublishOptions } from '../broker/broker.js'
import { createBroker } from '../broker/create-broker.js'
import { HistoryChannels, patternsOverlap } from '../broker/history-channels.js'
import { BatchedHistoryReads } from '../broker/history-reads.js'
import type { StreamPosition } from '../broker/position.js'
import { type Settings, SettingsError } from '../config/settings.js'
import type { DeliveryMessage } from '../delivery/delivery-messages.js'
import { Delivery } from '../delivery/delivery.js'
import { type ChannelSpec, type CompiledChannel, compileChannel } from '../protocol/channels.js'
import { AppError, CloseCode, CloseReason, ErrorCode } from '../protocol/codes.js'
import type { Dialect } from '../dialects/dialect.js'
import { envelopeDialect } from '../dialects/envelope.js'
import type { DirectMessage, JsonObject, Publication, ServerCodec, WelcomeInfo } from '../protocol/messages.js'
import { Connection } from './connection.js'
import { textFrame } from './frame.js'
import { loadTls, serverFactory, type TlsFiles } from './http-transport.js'
import { registerBuiltinRequests } from './builtin-requests.js'
import { registerHttpRoutes } from './http-routes.js'
import { matchChannelOrThrow, ownerOf, validatePublication } from './publication.js'
import { RequestRegistry } from './request-registry.js'
import { RoomRegistry } from './room-registry.js'
import { type BroadcastObserver, ServerStats } from './stats.js'
import { healthView, infoView, snapshot, statsView, StatusRegistry, statusView } from './status-model.js'
import type { ServerPlugin } from './plugin.js'
import { frameCache, HeldDeliveries, type HistoryHost, subscribeWithHistory } from './history-subscribe.js'
import type { Lifecycle, Published, ServerView } from './server-view.js'
import type { CredentialCheck, SessionHost } from './session/host.js'
import { Session } from './session/session.js'
import { UpgradeHandler } from './upgrade.js'

/** The paths a client opens its WebSocket on. */
const WEBSOCKET_PATHS = ['/', '/ws'] as const

export type { Published } from './server-view.js'

/** Event name → zod schema of its payload (extra fields pass through). */
export type EventSchemas = Readonly<Record<string, z.ZodType<JsonObject>>>

/** What a service declares; the base class does the rest. */
export interface ServiceSpec<E extends EventSchemas = EventSchemas> {
  /** Service name, e.g. `workflow`; also the `server` field of the welcome. */
  readonly name: string
  /** Welcome `message` text. */
  readonly welcome: string
  readonly channels: readonly ChannelSpec[]
  readonly events: E
  /** Wire dialect (codec, ids, auth, keepalive); default the envelope dialect. */
  readonly dialect?: Dialect
  /** Channels every connection joins once admitted (flat context service: `global`). */
  readonly autoSubscribe?: readonly string[]
}

export interface ServerOptions {
  /** Cluster broker; default from settings.redis: a RedisBroker when `redis.url` is set, else a MemoryBroker. */
  readonly broker?: Broker
  /** @deprecated Use `broker`; still accepted (ignored when `broker` is given). */
  readonly bridge?: Broker
  readonly logger?: Logger
}

type ConnectionCallback = (conn: Connection) => void

/**
 * The base WebSocket pub/sub server. A service subclasses it, declares channels, events and
 * requests; the base owns admission, dispatch, rooms, limits, HTTP and shutdown.
 */
export class WebSocketServer<E extends EventSchemas = EventSchemas> implements BrokerSink, ServerView, SessionHost {
  readonly spec: ServiceSpec<E>
  readonly settings: Settings
  readonly instanceId = randomUUID()
  readonly log: Logger
  readonly requests = new RequestRegistry()
  readonly stats = new ServerStats()
  /** The parts that report status of their own; /health, /stats and the MCP tools show them. */
  readonly statusRegistry = new StatusRegistry()
  readonly dialect: Dialect
  /** The server half of the dialect's codec. */
  readonly codec: ServerCodec
  readonly broker: Broker
  /** Who may use the HTTP routes, the upgrade and MCP. */
  readonly access: AccessPolicy
  /** Which channels keep history (settings.history). */
  readonly history: HistoryChannels
  /** At-least-once delivery of the events settings.delivery.tracked names (docs/protocol.md A.8). */
  readonly delivery: Delivery
  /** Set by the metrics module to observe every broadcast. */
  broadcastObserver: BroadcastObserver | null = null
  readonly #compiled: readonly CompiledChannel[]
  readonly #connections = new Map<string, Connection>()
  readonly #rooms: RoomRegistry<Connection>
  /** Checks credentials with the dialect; a seam tests may replace. */
  readonly authenticator: CredentialCheck
  readonly #onConnect: ConnectionCallback[] = []
  readonly #onDisconnect: ConnectionCallback[] = []
  readonly #plugins: ServerPlugin[] = []
  readonly #held: HeldDeliveries<Connection>
  readonly #historyHost: HistoryHost<Connection>
  readonly #tls: TlsFiles | null
  #app: FastifyInstance | null = null
  #state: Lifecycle = 'idle'
  #stopHeartbeat: (() => void) | null = null
  #closing: Promise<void> | null = null
  #port = 0

  constructor(spec: ServiceSpec<E>, settings: Settings, options: ServerOptions = {}) {
    this.spec = spec
    this.settings = settings
    this.access = new AccessPolicy(settings)
    this.dialect = spec.dialect ?? envelopeDialect
    this.codec = this.dialect.codec
    this.log = (options.logger ?? pino({ level: settings.log_level })).child({ service: spec.name })
    this.broker = options.broker ?? options.bridge ?? createBroker(settings.redis, this.log)
    this.#compiled = spec.channels.map(compileChannel)
    this.history = this.#historyChannels(settings)
    this.#held = new HeldDeliveries(settings.max_buffered_bytes)
    this.#historyHost = {
      held: this.#held,
      reads: new BatchedHistoryReads((channel, after, opts) => this.broker.history(channel, after, opts)),
      join: (conn, channel) => this.subscribe(conn, channel),
      whenSubscribed: (channel) => this.broker.whenSubscribed(channel),
      frame: frameCache((pub) => textFrame(this.codec.encodeEvent(pub))),
      send: (conn, frame) => {
        const ok = conn.sendFramed(frame)
        if (ok) this.stats.countOut('event')
        return ok
      },
      overflow: (conn) => this.#closeSlow(conn),
    }
    this.delivery = new Delivery(settings.delivery, Object.keys(spec.events), { log: this.log })
    this.#rooms = new RoomRegistry<Connection>({
      onActive: (room) => this.broker.roomActive(room),
      onIdle: (room) => this.broker.roomIdle(room),
    })
    const problems = this.dialect.settingsProblems(settings, spec.name)
    if (problems.length > 0) throw new SettingsError(`settings of ${spec.name}`, problems)
    this.#tls = loadTls(settings, `settings of ${spec.name}`)
    this.authenticator = { verify: (credentials) => this.dialect.verify(credentials, this.settings) }
    registerBuiltinRequests(this)
  }

  // ── hooks for subclasses ────────────────────────────────────────────────────────────────

  /** Called for every publication this instance delivers (local or from the broker): keep projections here. */
  protected onPublication(_pub: Publication): void {}

  /**
   * Rooms whose members also receive a publication, besides its own channel (the context
   * service: `global` sees `sessions/{id}` and `topics/{t}`). Each connection gets it once.
   */
  protected alsoDeliverTo(_pub: Publication): readonly string[] {
    return []
  }

  /**
   * Called for every publication offered here (socket, HTTP, MCP, emit) once it passed the
   * channel, event, schema and permission checks, before the broker takes it: throw an AppError
   * to refuse it (a service rule such as an ordering). The function it returns, if any, runs when
   * the broker refuses the publication after all, so the rule can take it back.
   */
  protected admitPublication(_pub: Publication): (() => void) | void {}

  /** Registers a callback run after a connection is admitted (after auth, when required). */
  onConnect(cb: ConnectionCallback): void {
    this.#onConnect.push(cb)
  }

  /** Registers a callback run after a connection closed and left its rooms. */
  onDisconnect(cb: ConnectionCallback): void {
    this.#onDisconnect.push(cb)
  }

  /** Attaches a plugin (metrics, MCP); must be called before listen(). */
  use(plugin: ServerPlugin): this {
    if (this.#state !== 'idle') throw new Error(`Cannot add plugin ${plugin.name}: server is ${this.#state}`)
    this.#plugins.push(plugin)
    if (plugin.status !== undefined) this.statusRegistry.register({ name: plugin.name, status: () => plugin.status?.() ?? {} })
    return this
  }

  // ── public API ─────────────────────────────────────────────────────────────────────────

  get name(): string {
    return this.spec.name
  }

  get state(): Lifecycle {
    return this.#state
  }

  /** The bound port (after listen). */
  get port(): number {
    return this.#port
  }

  get channelSpecs(): readonly CompiledChannel[] {
    return this.#compiled
  }

  connections(): IterableIterator<Connection> {
    return this.#connections.values()
  }

  get connectionCount(): number {
    return this.#connections.size
  }

  getConnection(id: string): Connection | undefined {
    return this.#connections.get(id)
  }

  /** Room name → local subscriber count. */
  roomCounts(): Record<string, number> {
    return this.#rooms.counts()
  }

  get roomCount(): number {
    return this.#rooms.size
  }

  /** May this connection read `channel`? Throws INVALID_CHANNEL / FORBIDDEN. */
  checkRead(conn: Connection, channel: unknown): void {
    const match = matchChannelOrThrow(this.#compiled, channel)
    if (!canRead(this.#access(conn), match.channel, ownerOf(match))) {
      throw new AppError(ErrorCode.FORBIDDEN, `Not authorized to subscribe to ${match.channel}`)
    }
  }

  /** Throws INVALID_CHANNEL unless `channel` is one of this service's channels. */
  checkChannel(channel: unknown): void {
    matchChannelOrThrow(this.#compiled, channel)
  }

  /** The service's own status (get_status). */
  status(): JsonObject {
    return statusView(snapshot(this))
  }

  /** GET /health (docs/protocol.md E). */
  health(): JsonObject {
    return healthView(snapshot(this))
  }


  /** GET /stats. */
  statsSnapshot(): JsonObject {
    return statsView(snapshot(this))
  }

  /** GET /ws/info: clients and channels. */
  info(): JsonObject {
    return infoView(this)
  }

  /** Adds the connection to a room, enforcing max_subscriptions; idempotent. */
  subscribe(conn: Connection, channel: string): void {
    if (conn.subscriptions.has(channel)) return
    if (conn.subscriptions.size >= this.settings.max_subscriptions) {
      throw new AppError(
        ErrorCode.TOO_MANY_SUBSCRIPTIONS,
        `Subscription limit reached (${this.settings.max_subscriptions} channels per connection)`,
      )
    }
    this.#rooms.join(channel, conn)
  }

  /**
   * The subscribe request: joins the room; on a history channel also answers the stream
   * position and recovers from `since` (docs/protocol.md A.8). Answers once the cluster
   * delivers the room here.
   */
  subscribeTo(conn: Connection, channel: string, since: StreamPosition | null): JsonObject | Promise<JsonObject> {
    const opts = this.history.optionsOf(channel)
    if (opts !== null) return subscribeWithHistory(this.#historyHost, conn, channel, since, opts)
    this.subscribe(conn, channel)
    // `since` on a channel without history: nothing to recover from, and the client must know.
    const answer: JsonObject = since === null ? { status: 'subscribed', channel } : { status: 'subscribed', channel, recovered: false }
    const ready = this.broker.whenSubscribed(channel)
    return ready === null ? answer : ready.then(() => answer)
  }

  unsubscribe(conn: Connection, channel: string): void {
    this.#rooms.leave(channel, conn)
  }

  /**
   * Validates and publishes an event to every subscriber on every instance. `from` is the
   * publishing connection (permission-checked) or null for trusted server-side callers.
   * Resolves once accepted: on a history channel, stored with its position; rejects with
   * BROKER_UNAVAILABLE when it could not be stored (then no one received it).
   */
  async publish(channel: unknown, event: unknown, data: unknown, from: Connection | null = null, opts: PublishOptions = {}): Promise<Published> {
    const pub = this.#prepare(channel, event, data, from)
    const takeBack = this.admitPublication(pub)
    try {
      return await this.#send(pub, opts)
    } catch (err) {
      takeBack?.()
      throw err
    }
  }

  /**
   * Type-checked publish for in-process callers: `server.emit('workflow:w1', 'workflow.started', {...})`.
   * Validation errors throw at once; a publication refused by the broker is logged (use publish() to be told).
   */
  emit<K extends keyof E & string>(channel: string, event: K, data: z.input<E[K]>): Publication {
    const pub = this.#prepare(channel, event, data, null)
    const takeBack = this.admitPublication(pub)
    this.#send(pub).catch((err: unknown) => {
      takeBack?.()
      this.log.warn({ err, channel, event }, 'publication refused')
    })
    return pub
  }

  #prepare(channel: unknown, event: unknown, data: unknown, from: Connection | null): Publication {
    const valid = validatePublication(this.#compiled, this.spec.events, channel, event, data)
    if (from !== null && !canWrite(this.#access(from), valid.channel, ownerOf(matchChannelOrThrow(this.#compiled, valid.channel)))) {
      throw new AppError(ErrorCode.FORBIDDEN, `Not authorized to publish to ${valid.channel}`)
    }
    return { id: this.dialect.newEventId(), ...valid, timestamp: new Date().toISOString() }
  }

  async #send(pub: Publication, opts: PublishOptions = {}): Promise<Published> {
    const outcome = await this.broker.publish(pub, this.history.optionsOf(pub.channel), opts)
    return { pub: outcome.pub, delivered: outcome.local + outcome.remote, instances: outcome.instances + 1 }
  }

  /**
   * Validates like publish() and delivers to this instance's own subscribers only, never over
   * the broker: for sources every instance hears by itself (PostgreSQL NOTIFY), which would
   * otherwise reach each subscriber once per instance. Such events keep no history (each
   * instance would store its own copy): they carry no position.
   */
  publishLocal(channel: unknown, event: unknown, data: unknown): { pub: Publication; delivered: number } {
    const valid = validatePublication(this.#compiled, this.spec.events, channel, event, data)
    const pub: Publication = { id: this.dialect.newEventId(), ...valid, timestamp: new Date().toISOString() }
    return { pub, delivered: this.deliver(pub) }
  }

  /** Sends an event to one connection, wherever it lives; says where it went ('unknown': nowhere). */
  async sendTo(connectionId: string, event: string, data: JsonObject): Promise<DirectOutcome> {
    const msg: DirectMessage = { id: this.dialect.newEventId(), connectionId, event, data, timestamp: new Date().toISOString() }
    return this.broker.sendDirect(msg)
  }

  // ── BrokerSink ─────────────────────────────────────────────────────────────────────────

  /** Delivers a publication to local subscribers: encoded once, the same bytes to each. */
  deliver(pub: Publication): number {
    try {
      this.onPublication(pub)
    } catch (err) {
      this.log.error({ err, event: pub.event }, 'projection failed')
    }
    const members = this.#audience(pub)
    if (members === undefined) return 0
    const started = this.broadcastObserver === null ? 0 : performance.now()
    // Framed once as a text frame (docs/protocol.md A.1); every subscriber gets the same bytes.
    const frame = textFrame(this.codec.encodeEvent(pub))
    // Subscribers still being replayed to get it after their replay (history-subscribe.ts).
    const holding = this.#held.holders(pub.channel)
    let n = 0
    // A tracked event (docs/protocol.md A.8) is tracked per recipient; the retries re-send these same bytes.
    const tracked = this.delivery.isTracked(pub.event) ? this.delivery.frame(frame) : null
    for (const conn of members) {
      const held = holding?.get(conn)
      if (held !== undefined) this.#held.keep(held, pub, frame)
      else {
        if (conn.sendFramed(frame)) n++
        // Tracked for a closing connection too: its identity may reconnect and get it then.
        if (tracked !== null) this.delivery.track(conn, pub.id, pub.event, tracked)
      }
    }
    this.stats.broadcasts++
    this.stats.deliveries += n
    this.stats.countOut('event', n)
    this.broadcastObserver?.onBroadcast(pub.channel, n, (performance.now() - started) / 1000)
    return n
  }

  subscriberCount(channel: string): number {
    return this.#rooms.members(channel)?.size ?? 0
  }

  receiveDelivery(origin: string, msg: DeliveryMessage): void {
    this.delivery.receive(origin, msg)
  }

  /** The connections a publication goes to: its room's members, plus those of alsoDeliverTo(), each once. */
  #audience(pub: Publication): ReadonlySet<Connection> | undefined {
    const members = this.#rooms.members(pub.channel)
    const extra = this.alsoDeliverTo(pub)
    if (extra.length === 0) return members
    const all = new Set(members)
    for (const room of extra) for (const conn of this.#rooms.members(room) ?? []) all.add(conn)
    return all.size === 0 ? undefined : all
  }

  deliverDirect(msg: DirectMessage): boolean {
    const conn = this.#connections.get(msg.connectionId)
    if (conn === undefined || conn.phase !== 'open') return false
    const ok = conn.send(this.codec.encodeDirect(msg))
    if (ok) this.stats.countOut('event')
    return ok
  }

  // ── lifecycle ──────────────────────────────────────────────────────────────────────────

  /** Starts HTTP + WebSocket on settings.host:settings.port and connects the broker. */
  async listen(): Promise<{ host: string; port: number }> {
    if (this.#state !== 'idle') throw new Error(`Cannot listen: server is ${this.#state}`)
    this.#state = 'starting'
    // Typed as fastify's own logger interface, so the app keeps fastify's default logger type.
    const logger: FastifyBaseLogger = this.log
    const app: FastifyInstance = Fastify({
      loggerInstance: logger,
      logController: new LogController({ disableRequestLogging: true }),
      bodyLimit: this.settings.max_payload,
      forceCloseConnections: true,
      serverFactory: serverFactory(this.settings, this.#tls),
    })
    this.#app = app
    // The drain runs before fastify stops listening: a late upgrade meanwhile is answered 503.
    app.addHook('preClose', () => this.#drain())
    new UpgradeHandler(
      {
        access: this.access,
        accepting: () => this.#state === 'running' || this.#state === 'starting',
        admit: (socket, req) => this.#admit(socket, req),
        debug: (fields, msg) => this.log.debug(fields, msg),
      },
      { paths: WEBSOCKET_PATHS, maxPayload: this.settings.max_payload },
    ).attach(app.server)
    // A plain GET on a WebSocket path is a client that forgot to upgrade: say so (426), not 404.
    const upgradeRequired = (_req: unknown, reply: FastifyReply) =>
      reply
        .code(426)
        .header('upgrade', 'websocket')
        .header('connection', 'Upgrade')
        .send({ error: 'This path speaks WebSocket: send an Upgrade: websocket request', code: ErrorCode.INVALID_PARAMS })
    for (const url of WEBSOCKET_PATHS) app.get(url, { config: { access: 'socket' } }, upgradeRequired)
    registerHttpRoutes(app, this)
    for (const plugin of this.#plugins) await plugin.setup(this, app)
    await this.broker.start(this, {
      id: this.instanceId,
      service: this.name,
      connections: () => this.connectionCount,
      // A service keeping a projection must see every publication, not only its local rooms'.
      observeAll: this.onPublication !== WebSocketServer.prototype.onPublication,
      accepts: (pub) => this.#accepts(pub),
    })
    const broker = this.broker
    this.delivery.join(this.instanceId, {
      send: (msg) => broker.sendDelivery(msg),
      get connected() {
        return broker.state === 'connected'
      },
    })
    await app.listen({ host: this.settings.host, port: this.settings.port })
    const addr = app.server.address()
    this.#port = typeof addr === 'object' && addr !== null ? addr.port : this.settings.port
    this.#stopHeartbeat = this.dialect.startKeepalive(
      {
        connections: () => this.#connections.values(),
        sendFramed: (conn, type, frame) => {
          if (conn.sendFramed(frame)) this.stats.countOut(type)
        },
        onTimeout: (conn) => {
          this.stats.heartbeatTimeouts++
          this.log.info({ connection: conn.id }, 'heartbeat timeout')
        },
      },
      this.settings,
    )
    try {
      for (const plugin of this.#plugins) await plugin.start?.()
    } catch (err) {
      await this.close()
      throw err
    }
    this.#state = 'running'
    this.log.info({ host: this.settings.host, port: this.#port, bridge: this.broker.state }, 'listening')
    return { host: this.settings.host, port: this.#port }
  }

  /** Graceful shutdown: stop accepting, close clients with 1001, bounded drain, close the broker. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#app !== null) await this.#app.close()
      else await this.#drain()
      for (const plugin of this.#plugins) {
        await plugin.stop?.().catch((err: unknown) => this.log.error({ err, plugin: plugin.name }, 'plugin stop failed'))
      }
      this.#state = 'stopped'
    })()
    return this.#closing
  }

  async #drain(): Promise<void> {
    if (this.#state === 'draining' || this.#state === 'stopped') return
    // A server that never ran (its listen failed) has nothing drained worth a log line.
    const ran = this.#state === 'running'
    this.#state = 'draining'
    this.#stopHeartbeat?.()
    const pending = [...this.#connections.values()].map(
      (conn) =>
        new Promise<void>((resolve) => {
          if (conn.socket.readyState === 3) return resolve()
          conn.socket.once('close', () => resolve())
          // Already closed by us (slow consumer, failed auth): its close handshake is not coming; do not wait for it.
          if (conn.phase === 'closing') conn.socket.terminate()
          else conn.close(CloseCode.GOING_AWAY, CloseReason.SHUTTING_DOWN)
        }),
    )
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.settings.drain_timeout * 1000)
    })
    const outcome = await Promise.race([Promise.all(pending), timeout])
    clearTimeout(timer)
    if (outcome === 'timeout') {
      this.log.warn({ remaining: this.#connections.size }, 'drain timeout: terminating remaining connections')
      for (const conn of this.#connections.values()) conn.socket.terminate()
    }
    await this.broker.close()
    this.delivery.close()
    if (ran) this.log.info('drained')
  }

  // ── connections ────────────────────────────────────────────────────────────────────────

  #admit(socket: WebSocket, req: IncomingMessage): void {
    // Listeners first, before anything can await.
    const conn = new Connection({
      id: this.dialect.newConnectionId(),
      socket,
      remoteAddress: this.access.clientAddress(req),
      secure: this.access.isSecure(req),
      maxBuffered: this.settings.max_buffered_bytes,
      onSlow: (c) => this.#closeSlow(c),
    })
    const onError = (err: Error) => this.log.debug({ err, connection: conn.id }, 'socket error')
    socket.on('error', onError)
    if (this.#state !== 'running') {
      conn.close(CloseCode.GOING_AWAY, CloseReason.SHUTTING_DOWN)
      return
    }
    if (this.#connections.size >= this.settings.max_connections) {
      this.stats.rejectedAtCapacity++
      conn.close(CloseCode.TRY_AGAIN_LATER, CloseReason.AT_CAPACITY)
      return
    }
    this.#connections.set(conn.id, conn)
    this.stats.connectionsTotal++
    const session = new Session(this, conn)
    socket.on('close', () => {
      session.end()
      this.#cleanup(conn)
    })
    session.start(req.url)
  }

  /** SessionHost: the welcome's content for this connection. */
  welcomeFor(conn: Connection): WelcomeInfo {
    return {
      connectionId: conn.id,
      server: this.name,
      message: this.spec.welcome,
      authenticated: conn.identity !== null,
      secure: conn.secure,
      rateLimit: this.settings.message_rate_limit,
    }
  }

  /** SessionHost: the connection got its welcome; auto-subscribe it and run the connect callbacks. */
  admitted(conn: Connection): void {
    for (const channel of this.spec.autoSubscribe ?? []) this.autoJoin(conn, channel)
    this.delivery.attach(conn, conn.identity?.userId ?? null)
    for (const cb of this.#onConnect) {
      try {
        cb(conn)
      } catch (err) {
        this.log.error({ err }, 'connect callback failed')
      }
    }
  }

  /** Joins a channel on the server's initiative (auto-subscribe, identity channels); a refusal is logged, not sent. */
  autoJoin(conn: Connection, channel: string): void {
    try {
      this.checkRead(conn, channel)
      this.subscribe(conn, channel)
    } catch (err) {
      this.log.debug({ err, connection: conn.id, channel }, 'auto-subscribe refused')
    }
  }

  /** Attaches a verified identity and joins the channels the dialect gives it. */
  identify(conn: Connection, identity: Identity): void {
    conn.identity = identity
    for (const channel of this.dialect.identityChannels(identity)) this.autoJoin(conn, channel)
    // Its pending tracked events follow the identity (docs/protocol.md A.8).
    this.delivery.attach(conn, identity.userId)
  }

  #cleanup(conn: Connection): void {
    if (!this.#connections.delete(conn.id)) return
    this.#rooms.leaveAll(conn)
    this.delivery.detach(conn)
    for (const cb of this.#onDisconnect) {
      try {
        cb(conn)
      } catch (err) {
        this.log.error({ err }, 'disconnect callback failed')
      }
    }
  }

  #closeSlow(conn: Connection): void {
    if (conn.phase === 'closing') return
    this.stats.slowConsumerCloses++
    this.log.warn({ connection: conn.id, buffered: conn.socket.bufferedAmount, code: CloseCode.SLOW_CONSUMER }, 'slow consumer: connection cut')
    // ws keeps frame order, so a 4008 close frame would wait behind the very backlog the client
    // is not reading: cut the TCP connection now and free the backlog (docs/errors.md, 4008).
    conn.cut()
  }

  /** A publication from another instance passes the same checks as one published here. */
  #accepts(pub: Publication): boolean {
    try {
      validatePublication(this.#compiled, this.spec.events, pub.channel, pub.event, pub.data)
      return true
    } catch {
      return false
    }
  }

  /** The settings' history rules; each must name channels of this service (else a typo would keep nothing). */
  #historyChannels(settings: Settings): HistoryChannels {
    const problems = settings.history.flatMap((h, i) =>
      this.spec.channels.some((c) => patternsOverlap(c.pattern, h.channel))
        ? []
        : [`history.${i}.channel: ${h.channel} matches none of the channels of ${this.spec.name} (${this.spec.channels.map((c) => c.pattern).join(', ')})`],
    )
    if (problems.length > 0) throw new SettingsError(`settings of ${this.spec.name}`, problems)
    return new HistoryChannels(settings.history.map((h) => ({ channel: h.channel, size: h.size, ttlMs: h.ttl * 1000, metaTtlMs: h.position_ttl * 1000 })))
  }

  #access(conn: Connection) {
    return {
      service: this.name,
      identity: conn.identity,
      authRequired: this.settings.auth.required,
      allowClientPublish: this.settings.allow_client_publish,
    }
  }

  /** Seconds since the server object was created. */
  get uptime(): number {
    return (Date.now() - this.stats.startedAt) / 1000
  }
}
