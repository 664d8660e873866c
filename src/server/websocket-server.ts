import { randomUUID } from 'node:crypto'
import { pino, type Logger } from 'pino'
import type { z } from 'zod'
import { AccessPolicy } from '../auth/access-policy.js'
import type { Identity } from '../auth/identity.js'
import type { Broker, BrokerSink, DirectOutcome, PublishOptions } from '../broker/broker.js'
import { createBroker } from '../broker/create-broker.js'
import type { HistoryChannels } from '../broker/history-channels.js'
import { type Settings, SettingsError } from '../config/settings.js'
import type { DeliveryMessage } from '../broker/handover-messages.js'
import { Delivery } from '../delivery/delivery.js'
import type { CompiledChannel } from '../protocol/channels.js'
import type { Dialect } from '../dialects/dialect.js'
import { envelopeDialect } from '../dialects/envelope.js'
import type { DirectMessage, JsonObject, Publication, ServerCodec, WelcomeInfo } from '../protocol/messages.js'
import { Admission, type ConnectionCallback } from './admission.js'
import { ChannelRules, historyChannelsOf } from './channel-rules.js'
import type { Connection } from './connection.js'
import { loadTls } from './http-transport.js'
import { registerBuiltinRequests } from './builtin-requests.js'
import { PRESENCE_EVENTS, presenceChannelsOf, type PresencePage, ServerPresence } from './presence.js'
import type { PresenceMember } from '../broker/cluster-presence.js'
import { AppError, ErrorCode } from '../protocol/codes.js'
import { ServerLifecycle } from './lifecycle.js'
import { logSerializers } from './log-redaction.js'
import { LocalDelivery } from './local-delivery.js'
import { Observers } from './observers.js'
import { RequestRegistry } from './request-registry.js'
import { Subscriptions } from './subscriptions.js'
import { type BroadcastObserver, ServerStats } from './stats.js'
import { answerForWorker, serviceStatus } from './service-status.js'
import { clientsSnapshot, healthView, infoView, snapshot, statsView, StatusRegistry, statusView } from './status-model.js'
import type { ServerPlugin } from './plugin.js'
import type { Lifecycle, Published, ServerView } from './server-view.js'
import { type CoreHooks, coreHooks } from './service-hooks.js'
import type { EventSchemas, ServerOptions, ServiceSpec } from './service-spec.js'
import type { CredentialCheck, SessionHost } from './session/host.js'
import type { WorkerGroup } from './worker-group.js'

export type { Published } from './server-view.js'
export type { EventSchemas, ServerOptions, ServiceSpec } from './service-spec.js'

/**
 * The base WebSocket pub/sub server. A service declares its channels, events and hooks in its
 * spec (and its requests in `requests`); the base owns admission, dispatch, rooms, limits, HTTP,
 * the publish API and shutdown. Services never override its methods (lint checks services/).
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
  /** Checks credentials with the dialect; a seam tests may replace. */
  readonly authenticator: CredentialCheck
  /** The other workers when this server is one of several (`workers: N`); null when it is the whole service. */
  readonly workers: WorkerGroup | null
  readonly #rules: ChannelRules
  readonly #subs: Subscriptions
  readonly #admission: Admission
  readonly #local: LocalDelivery
  readonly #life: ServerLifecycle
  readonly #hooks: CoreHooks
  readonly #presence: ServerPresence

  constructor(spec: ServiceSpec<E>, settings: Settings, options: ServerOptions = {}) {
    this.spec = spec
    this.settings = settings
    this.access = new AccessPolicy(settings)
    this.dialect = spec.dialect ?? envelopeDialect
    this.codec = this.dialect.codec
    this.log = (options.logger ?? pino({ level: settings.log_level })).child({ service: spec.name }, { serializers: logSerializers })
    this.broker = options.broker ?? createBroker(settings.redis, this.log)
    this.workers = options.workers ?? null
    this.#rules = new ChannelRules(spec, settings, () => this.dialect.newEventId(), this.dialect.permissionsInTokens ?? true)
    this.history = historyChannelsOf(spec, settings)
    const delivery = (this.delivery = new Delivery(settings.delivery, Object.keys(spec.events), { log: this.log }))
    const hooks = (this.#hooks = coreHooks(spec.hooks, this.log))
    const presence = (this.#presence = new ServerPresence({
      broker: this.broker,
      instanceId: this.instanceId,
      rules: presenceChannelsOf(spec, settings),
      newEventId: () => this.dialect.newEventId(),
      log: this.log,
    }))
    const subs = (this.#subs = new Subscriptions({
      broker: this.broker,
      history: this.history,
      codec: this.codec,
      stats: this.stats,
      delivery,
      maxSubscriptions: settings.max_subscriptions,
      maxBufferedBytes: settings.max_buffered_bytes,
      presence,
      hooks,
      overflow: (conn) => this.#admission.closeSlow(conn),
    }))
    // Observers see the whole cluster's publications: the broker hears every room while there are
    // some (A.9). `switching` settles once the broker heard the last change; observe and unobserve answer after it.
    let switching: Promise<void> | null = null
    const observers = new Observers<Connection>(settings.max_subscriptions, (on) => {
      const heard = (switching = this.broker.observing?.(on) ?? null)
      void heard?.then(() => {
        if (switching === heard) switching = null
      })
    })
    this.#admission = new Admission(this, {
      checkRead: (conn, channel) => this.#rules.checkRead(conn, channel),
      join: (conn, channel) => subs.add(conn, channel),
      whenSubscribed: (channel) => this.broker.whenSubscribed(channel),
      leaveAll: (conn) => {
        subs.rooms.leaveAll(conn)
        observers.forget(conn)
      },
      identified: (conn) => presence.identified(conn),
      hooks,
    })
    this.#local = new LocalDelivery({
      codec: this.codec,
      held: subs.held,
      delivery,
      stats: this.stats,
      members: (room) => subs.rooms.members(room),
      observers,
      observer: () => this.broadcastObserver,
    })
    const problems = this.dialect.settingsProblems(settings, spec.name)
    if (problems.length > 0) throw new SettingsError(`settings of ${spec.name}`, problems)
    this.#life = new ServerLifecycle(this, {
      admission: this.#admission,
      tls: loadTls(settings, `settings of ${spec.name}`),
      // A service keeping a projection must see every publication, not only its local rooms'.
      observeAll: () => hooks.observesAll,
      // join/leave events are the presence's own (presence.ts), not events of the service.
      accepts: (pub) => (PRESENCE_EVENTS.has(pub.event) ? presence.enabled(pub.channel) : this.#rules.accepts(pub)),
    })
    this.authenticator = { verify: (credentials) => this.dialect.verify(credentials, this.settings) }
    registerBuiltinRequests({
      requests: this.requests,
      checkRead: (conn, channel) => this.#rules.checkRead(conn, channel),
      checkChannel: (channel) => this.#rules.checkChannel(channel),
      subscribeTo: (conn, channel, since, afterAnswer) => subs.subscribeTo(conn, channel, since, afterAnswer),
      unsubscribe: (conn, channel) => subs.remove(conn, channel),
      observe: (conn, pattern) => {
        const name = observers.add(conn, pattern)
        return switching === null ? name : switching.then(() => name)
      },
      unobserve: (conn, pattern) => {
        observers.remove(conn, pattern)
        return switching
      },
      publish: (channel, event, data, from) => this.publish(channel, event, data, from),
      status: () => serviceStatus(this),
      presence: (conn, channel, page) => presence.members(this.#readablePresence(conn, channel), page),
      presenceStats: (conn, channel) => presence.stats(this.#readablePresence(conn, channel)),
    })
    answerForWorker(this)
  }

  /** The channel, when the connection may read it: INVALID_CHANNEL / FORBIDDEN otherwise. */
  #readablePresence(conn: Connection, channel: unknown): string {
    try {
      this.#rules.checkRead(conn, channel)
    } catch (err) {
      if (err instanceof AppError && err.code === ErrorCode.FORBIDDEN) throw new AppError(ErrorCode.FORBIDDEN, err.message.replace('subscribe to', 'see the presence of'))
      throw err
    }
    return channel as string
  }

  /** Registers an observer run after a connection closed and left its rooms (a service uses its onDisconnect hook). */
  onDisconnect(cb: ConnectionCallback): void {
    this.#admission.onDisconnect(cb)
  }

  /** Attaches a plugin (metrics, MCP); must be called before listen(). */
  use(plugin: ServerPlugin): this {
    this.#life.use(plugin)
    return this
  }

  // ── public API ─────────────────────────────────────────────────────────────────────────

  get name(): string {
    return this.spec.name
  }

  get state(): Lifecycle {
    return this.#life.state
  }

  /** The bound port (after listen). */
  get port(): number {
    return this.#life.port
  }

  get channelSpecs(): readonly CompiledChannel[] {
    return this.#rules.compiled
  }

  connections(): IterableIterator<Connection> {
    return this.#admission.connections.values()
  }

  get connectionCount(): number {
    return this.#admission.connections.size
  }

  getConnection(id: string): Connection | undefined {
    return this.#admission.connections.get(id)
  }

  /** Room name → local subscriber count. */
  roomCounts(): Record<string, number> {
    return this.#subs.rooms.counts()
  }

  get roomCount(): number {
    return this.#subs.rooms.size
  }

  /** One page of the members of a presence channel on every instance (operators: HTTP, MCP); INVALID_CHANNEL / PRESENCE_NOT_ENABLED / INVALID_PARAMS. */
  presenceOf(channel: unknown, page: PresencePage = {}): JsonObject {
    this.#rules.checkChannel(channel)
    return this.#presence.members(channel as string, page)
  }

  /** Connections and distinct users of a presence channel on every instance (operators). */
  presenceStatsOf(channel: unknown): JsonObject {
    this.#rules.checkChannel(channel)
    return this.#presence.stats(channel as string)
  }

  /** Every channel with subscribers anywhere in the cluster, with counts. */
  channelList(): { channel: string; subscribers: number; presence: boolean }[] {
    return this.#presence.channels()
  }

  /** The service's own status (get_status), as this process sees it (with workers, get_status answers for all). */
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
    return infoView(clientsSnapshot(this))
  }

  /**
   * Validates and publishes an event to every subscriber on every instance. `from` is the
   * publishing connection (permission-checked) or null for trusted server-side callers.
   * Resolves once accepted: on a history channel, stored with its position; rejects with
   * BROKER_UNAVAILABLE when it could not be stored (then no one received it).
   */
  async publish(channel: unknown, event: unknown, data: unknown, from: Connection | null = null, opts: PublishOptions = {}): Promise<Published> {
    const pub = this.#rules.publication(channel, event, data, from)
    const takeBack = this.#hooks.admitPublication(pub)
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
    const pub = this.#rules.publication(channel, event, data, null)
    const takeBack = this.#hooks.admitPublication(pub)
    this.#send(pub).catch((err: unknown) => {
      takeBack?.()
      this.log.warn({ err, channel, event }, 'publication refused')
    })
    return pub
  }

  async #send(pub: Publication, opts: PublishOptions = {}): Promise<Published> {
    const history = this.history.optionsOf(pub.channel)
    // A tracked event to a private channel waits for its owner in the durable record, published or not (A.8).
    const record = history === null && this.delivery.isTracked(pub.event) ? this.#record(pub) : undefined
    const outcome = await this.broker.publish(pub, history, record === undefined ? opts : { ...opts, record })
    return { pub: outcome.pub, delivered: outcome.local + outcome.remote, instances: outcome.instances + 1 }
  }

  #record(pub: Publication): PublishOptions['record'] {
    return this.delivery.recordFor(this.#rules.ownerOf(pub.channel), pub.id, pub.event, () => this.codec.encodeEvent(pub))
  }

  /**
   * Validates like publish() and delivers to this instance's own subscribers only, never over
   * the broker: for sources every instance hears by itself (PostgreSQL NOTIFY), which would
   * otherwise reach each subscriber once per instance. Such events keep no history (each
   * instance would store its own copy): they carry no position.
   */
  publishLocal(channel: unknown, event: unknown, data: unknown): { pub: Publication; delivered: number } {
    const pub = this.#rules.publication(channel, event, data, null)
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
    // join/leave events concern the channel's own subscribers: no projection, no mirror.
    if (PRESENCE_EVENTS.has(pub.event)) return this.#local.deliver(pub, [])
    this.#hooks.onPublication(pub)
    return this.#local.deliver(pub, this.#hooks.alsoDeliverTo(pub))
  }

  occupied(channel: string): void {
    this.#hooks.onOccupied(channel)
  }

  vacated(channel: string): void {
    this.#hooks.onVacated(channel)
  }

  gone(channel: string, members: readonly PresenceMember[]): void {
    this.#presence.gone(channel, members)
  }

  subscriberCount(channel: string): number {
    return this.#subs.rooms.members(channel)?.size ?? 0
  }

  receiveDelivery(origin: string, msg: DeliveryMessage): void {
    this.delivery.receive(origin, msg)
  }

  deliverDirect(msg: DirectMessage): boolean {
    const conn = this.#admission.connections.get(msg.connectionId)
    if (conn === undefined || conn.phase !== 'open') return false
    const ok = conn.send(this.codec.encodeDirect(msg))
    if (ok) this.stats.countOut('event')
    return ok
  }

  // ── lifecycle ──────────────────────────────────────────────────────────────────────────

  /** Starts HTTP + WebSocket on settings.host:settings.port and connects the broker. */
  listen(): Promise<{ host: string; port: number }> {
    return this.#life.listen()
  }

  /** Graceful shutdown: stop accepting, close clients with 1001, bounded drain, close the broker. */
  close(): Promise<void> {
    return this.#life.close()
  }

  // ── connections ────────────────────────────────────────────────────────────────────────

  /** SessionHost: the welcome's content for this connection. */
  welcomeFor(conn: Connection): WelcomeInfo {
    return this.#admission.welcomeFor(conn)
  }

  /** SessionHost: the connection is about to get its welcome; auto-subscribe it (a promise when the welcome must wait for the broker). */
  welcoming(conn: Connection): Promise<void> | null {
    return this.#admission.welcoming(conn)
  }

  /** SessionHost: the connection got its welcome (or what is sent queues behind it); attach its tracked deliveries. */
  admitted(conn: Connection): void {
    this.#admission.admitted(conn)
  }

  /** Joins a channel on the server's initiative (auto-subscribe, identity channels); a refusal is logged, not sent. */
  autoJoin(conn: Connection, channel: string): void {
    this.#admission.autoJoin(conn, channel)
  }

  /** Attaches a verified identity and joins the channels the dialect gives it (a promise when the auth answer must wait for the broker). */
  identify(conn: Connection, identity: Identity): Promise<void> | null {
    return this.#admission.identify(conn, identity)
  }

  /** Seconds since the server object was created. */
  get uptime(): number {
    return (Date.now() - this.stats.startedAt) / 1000
  }
}
