import { envelopeClientCodec, flatClientCodec, type ClientCodec, type JsonObject, type ServerMessage, type StreamPosition } from '../protocol/index.js'
import { readPosition } from '../protocol/json.js'
import { backoffDelay } from './backoff.js'
import { FATAL_CLOSE_CODES, RoomcastError, TOKEN_EXPIRED_CLOSE } from './errors.js'
import { PendingRequests } from './pending.js'
import { RecentIds } from './recent-ids.js'
import { defaultSocketFactory, OPEN, type SocketFactory, type SocketLike } from './socket.js'
import type { ClientOptions, ClientState, EventMap, EventMeta, Subscribed } from './types.js'

type Listener<A extends unknown[]> = (...args: A) => void

/** The protocol's tracked events of the context service (docs/protocol.md B). */
const FLAT_TRACKED = ['task.*', 'subtask.*', 'message.*']

function matcher(patterns: readonly string[]): (event: string) => boolean {
  const exact = new Set(patterns.filter((p) => !p.endsWith('*')))
  const prefixes = patterns.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1))
  return (event) => exact.has(event) || prefixes.some((p) => event.startsWith(p))
}

/**
 * A roomcast client for both dialects, in browsers and Node ≥ 20 (docs/client.md). It reconnects
 * with capped, jittered backoff; re-subscribes with `since` on history channels; answers requests
 * as promises with a timeout; acknowledges tracked events and drops re-sent duplicates.
 */
export class RoomcastClient<E extends EventMap = EventMap> {
  readonly #opts: ClientOptions
  readonly #codec: ClientCodec
  /** A request that timed out on a connection silent since it was sent: the connection is dead (see #silentSince). */
  readonly #pending = new PendingRequests((sentAt) => this.#silentSince(sentAt))
  /** When the current connection last brought a frame. */
  #lastFrameAt = 0
  readonly #seen: RecentIds
  readonly #acks: (event: string) => boolean
  /** Channels the caller wants, with the last stream position seen (history channels). */
  readonly #subs = new Map<string, { position: StreamPosition | null; repairing?: boolean }>()
  /** Observer patterns the caller wants (docs/protocol.md A.9), observed again after a reconnect. */
  readonly #observing = new Set<string>()
  /** Subscribe requests in flight: their answers are handled as they arrive (#answered). */
  readonly #subscribing = new Map<string, { channel: string; resubscribe: boolean }>()
  readonly #handlers = new Map<string, Set<Listener<[JsonObject, EventMeta]>>>()
  readonly #any = new Set<Listener<[string, JsonObject, EventMeta]>>()
  readonly #stateListeners = new Set<Listener<[ClientState]>>()
  readonly #errorListeners = new Set<Listener<[RoomcastError]>>()
  readonly #subscribedListeners = new Set<Listener<[Subscribed]>>()
  readonly #openWaiters = new Set<{ resolve: () => void; reject: (e: RoomcastError) => void }>()
  #factory: SocketFactory | null
  #socket: SocketLike | null = null
  #state: ClientState = 'idle'
  #attempt = 0
  #timer: ReturnType<typeof setTimeout> | null = null
  #nextId = 0
  #connectionId: string | null = null
  #onWelcome: ((id: string) => void) | null = null
  /** Ids to acknowledge, sent in one frame once the frames at hand are handled (#flushAcks). */
  #acksDue = new Set<string>()
  #ackTimer: ReturnType<typeof setTimeout> | null = null
  /** Set while a refresh (getToken, then the auth request) is under way on the current socket. */
  #refreshing = false

  constructor(opts: ClientOptions) {
    this.#opts = opts
    this.#codec = opts.dialect === 'flat' ? flatClientCodec : envelopeClientCodec
    this.#factory = opts.socket ?? null
    this.#seen = new RecentIds(opts.dedupeWindow ?? 1000)
    this.#acks = matcher(opts.ackEvents ?? (opts.dialect === 'flat' ? FLAT_TRACKED : []))
  }

  get state(): ClientState {
    return this.#state
  }

  /** The server's id for the current connection, or null while not connected. */
  get connectionId(): string | null {
    return this.#connectionId
  }

  /** Connects (once); resolves when open, rejects when the server refuses for good (e.g. auth). */
  connect(): Promise<void> {
    if (this.#state === 'closed') return Promise.reject(new RoomcastError('CLOSED', 'Client is closed'))
    const ready = this.#whenOpen()
    if (this.#state === 'idle') {
      this.#setState('connecting')
      void this.#dial()
    }
    return ready
  }

  /** Subscribes (and keeps the subscription across reconnects); `since` recovers a history channel. */
  async subscribe(channel: string, opts: { since?: StreamPosition } = {}): Promise<Subscribed> {
    // Added once open, so a reconnect's automatic re-subscribe does not send it a second time.
    await this.#whenOpen()
    const known = this.#subs.get(channel)
    this.#subs.set(channel, { position: opts.since ?? known?.position ?? null })
    try {
      return await this.#subscribeNow(channel, false)
    } catch (err) {
      this.#subs.delete(channel)
      throw err
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    this.#subs.delete(channel)
    if (this.#state !== 'open') return
    const id = this.#id()
    this.#send(this.#codec.encodeUnsubscribe(channel, id))
    await this.#pending.wait(id, `unsubscribe ${channel}`, this.#timeout())
  }

  /**
   * Observes every channel matching `pattern` (`*`, `workflow:*`), read-only and never tracked;
   * for operators only (docs/protocol.md A.9). Kept across reconnects.
   */
  async observe(pattern: string): Promise<JsonObject> {
    await this.#whenOpen()
    this.#observing.add(pattern)
    try {
      return await this.request('observe', { pattern })
    } catch (err) {
      this.#observing.delete(pattern)
      throw err
    }
  }

  async unobserve(pattern: string): Promise<void> {
    this.#observing.delete(pattern)
    if (this.#state === 'open') await this.request('unobserve', { pattern })
  }

  /** Publishes an event; resolves with the server's answer (e.g. its id, and offset on history channels). */
  async publish<K extends keyof E & string>(channel: string, event: K, data: E[K]): Promise<JsonObject> {
    await this.#whenOpen()
    const id = this.#id()
    this.#send(this.#codec.encodePublish(channel, event, data, id))
    return this.#pending.wait(id, `publish ${event} to ${channel}`, this.#timeout())
  }

  /** A service request (e.g. `get_workflow_status`); rejects with the server's code or TIMEOUT. */
  async request(op: string, data: JsonObject = {}, opts: { timeout?: number } = {}): Promise<JsonObject> {
    await this.#whenOpen()
    const id = this.#id()
    this.#send(this.#codec.encodeRequest(op, data, id))
    return this.#pending.wait(id, op, opts.timeout ?? this.#timeout())
  }

  /** Calls `fn` for each `event`; returns a function that removes it. */
  on<K extends keyof E & string>(event: K, fn: (data: E[K], meta: EventMeta) => void): () => void {
    let set = this.#handlers.get(event)
    if (set === undefined) this.#handlers.set(event, (set = new Set()))
    const h = fn as Listener<[JsonObject, EventMeta]>
    set.add(h)
    return () => set.delete(h)
  }

  /** Calls `fn` for every event. */
  onAny(fn: (event: string, data: JsonObject, meta: EventMeta) => void): () => void {
    return this.#listen(this.#any, fn)
  }

  onState(fn: (state: ClientState) => void): () => void {
    return this.#listen(this.#stateListeners, fn)
  }

  /** Errors not tied to a call: a refused re-subscribe, an error frame without correlation, an auth failure. */
  onError(fn: (err: RoomcastError) => void): () => void {
    return this.#listen(this.#errorListeners, fn)
  }

  /** Every (re-)subscribe answer: `recovered` says whether missed events are being replayed. */
  onSubscribed(fn: (s: Subscribed) => void): () => void {
    return this.#listen(this.#subscribedListeners, fn)
  }

  /** Closes for good: no reconnect; pending calls fail with CLOSED. */
  close(): void {
    if (this.#state === 'closed') return
    this.#setState('closed')
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    // Acks still waiting go first: the server need not re-send what was handled.
    this.#flushAcks()
    const socket = this.#socket
    this.#socket = null
    socket?.close(1000, 'Client closed')
    this.#fail(new RoomcastError('CLOSED', 'Client closed'))
  }

  // ── connection ───────────────────────────────────────────────────────────────────────

  async #dial(): Promise<void> {
    this.#factory ??= await defaultSocketFactory()
    if (this.#state === 'closed') return
    // Before the socket opens: a slow token source must not eat into the server's auth.timeout.
    const credentials = await this.#credentials().catch((err: unknown) => tokenError(err))
    if (this.#isClosed()) return
    if (credentials instanceof RoomcastError) {
      this.#emitError(credentials)
      return this.#retry(backoffDelay(this.#attempt++, this.#opts.backoff))
    }
    const socket = this.#factory(this.#opts.url)
    this.#socket = socket
    socket.onmessage = (ev) => this.#onFrame(ev.data)
    socket.onerror = () => {} // onclose follows and decides
    socket.onclose = (ev) => this.#onClose(socket, ev.code, ev.reason)
    socket.onopen = () => void this.#handshake(socket, credentials)
  }

  /** What the auth request carries: the `auth` option, with getToken's token when there is one; null for none. */
  async #credentials(): Promise<JsonObject | null> {
    const { auth, getToken } = this.#opts
    if (getToken === undefined) return auth ?? null
    const token = await getToken()
    if (typeof token !== 'string' || token.length === 0) throw new Error('getToken() returned no token')
    return { ...auth, token }
  }

  /**
   * The server warned that the token expires (docs/protocol.md A.6, B): a fresh one from
   * getToken, sent as an auth request on the same connection; subscriptions stay. A failure is
   * reported: the server closes the connection 4001 at the expiry and the client reconnects.
   */
  async #refresh(): Promise<void> {
    const socket = this.#socket
    if (this.#opts.getToken === undefined || this.#refreshing || socket === null) return
    this.#refreshing = true
    try {
      let credentials: JsonObject | null
      try {
        credentials = await this.#credentials()
      } catch (err) {
        throw tokenError(err)
      }
      if (socket !== this.#socket || credentials === null) return
      const id = this.#id()
      this.#send(this.#codec.encodeAuth(credentials, id))
      await this.#pending.wait(id, 'auth refresh', this.#timeout())
    } catch (err) {
      const e = err instanceof RoomcastError ? err : new RoomcastError('CLOSED', String(err))
      if (e.code !== 'CLOSED' && socket === this.#socket) this.#emitError(e)
    } finally {
      this.#refreshing = false
    }
  }

  /** After the socket opens: auth (first frame, when configured), the welcome, then re-subscribes. */
  async #handshake(socket: SocketLike, credentials: JsonObject | null): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const welcome = new Promise<string>((resolve, reject) => {
      this.#onWelcome = resolve
      timer = setTimeout(() => reject(new RoomcastError('TIMEOUT', 'No welcome from the server')), this.#timeout())
    })
    welcome.catch(() => {}) // when auth fails first, nobody awaits the welcome any more
    try {
      let auth: Promise<JsonObject> | null = null
      if (credentials !== null) {
        const id = this.#id()
        this.#send(this.#codec.encodeAuth(credentials, id))
        auth = this.#pending.wait(id, 'auth', this.#timeout())
      }
      // Both awaited together: an auth refusal (envelope: before any welcome) must not go unhandled.
      const [connectionId] = await Promise.all([welcome, auth])
      this.#connectionId = connectionId
    } catch (err) {
      if (socket !== this.#socket) return
      const e = err instanceof RoomcastError ? err : new RoomcastError('CLOSED', String(err))
      if (e.code === 'AUTH_FAILED' || e.code === 'AUTH_REQUIRED') return this.#giveUp(e)
      this.#emitError(e)
      socket.close(4000, 'Handshake failed')
      return
    } finally {
      clearTimeout(timer)
      this.#onWelcome = null
    }
    const resubscribe = this.#state === 'reconnecting'
    this.#attempt = 0
    this.#setState('open')
    for (const w of this.#openWaiters) w.resolve()
    this.#openWaiters.clear()
    if (resubscribe) {
      // No answer (CLOSED: the connection went; TIMEOUT: nothing came, and a silent connection is
      // dropped too) keeps the channel: the next connection subscribes again, as after any loss.
      // Only a refusal drops it, and is reported.
      for (const channel of this.#subs.keys()) {
        this.#subscribeNow(channel, true).catch((err: RoomcastError) => {
          if (err.code === 'CLOSED' || err.code === 'TIMEOUT') return
          this.#subs.delete(channel)
          this.#emitError(err)
        })
      }
      for (const pattern of this.#observing) {
        this.request('observe', { pattern }).catch((err: RoomcastError) => {
          if (err.code === 'CLOSED' || err.code === 'TIMEOUT') return
          this.#observing.delete(pattern)
          this.#emitError(err)
        })
      }
    }
  }

  #onClose(socket: SocketLike, code: number, reason: string): void {
    if (socket !== this.#socket) return
    this.#socket = null
    this.#connectionId = null
    // Acks for a connection that is gone: the server re-sends what they named, and they are acked then.
    this.#acksDue.clear()
    this.#pending.rejectAll('CLOSED', `connection closed (${code}${reason ? ` ${reason}` : ''})`)
    if (this.#state === 'closed') return
    if (FATAL_CLOSE_CODES.has(code)) return this.#giveUp(new RoomcastError('AUTH_FAILED', `Server refused the connection: ${code} ${reason}`))
    // An expired token is no fault of the network: back at once, with a fresh token, no backoff counted.
    this.#retry(code === TOKEN_EXPIRED_CLOSE ? 0 : backoffDelay(this.#attempt++, this.#opts.backoff))
  }

  /**
   * A request got no answer, and nothing at all has arrived since it was sent: the path from the
   * server is dead while the socket still looks open (a half-open connection: the server hears
   * this client, so its keepalive never fires). Drop the connection and reconnect, as after any
   * loss; a server that is only slow keeps sending something (events, answers) and is left alone.
   */
  #silentSince(sentAt: number): void {
    const socket = this.#socket
    if (socket === null || this.#state !== 'open' || this.#lastFrameAt >= sentAt) return
    this.#onClose(socket, 1006, 'no frame from the server since a request that timed out')
    socket.close()
  }

  /** Dials again after `delay` ms, reconnecting. */
  #retry(delay: number): void {
    this.#setState('reconnecting')
    this.#timer = setTimeout(() => {
      this.#timer = null
      void this.#dial()
    }, delay)
  }

  #giveUp(err: RoomcastError): void {
    this.#emitError(err)
    this.#fail(err)
    this.close()
  }

  // ── frames ───────────────────────────────────────────────────────────────────────────

  #onFrame(raw: unknown): void {
    this.#lastFrameAt = Date.now()
    const msg: ServerMessage = this.#codec.decode(typeof raw === 'string' ? raw : new Uint8Array(raw as ArrayBuffer))
    switch (msg.kind) {
      case 'welcome':
        this.#onWelcome?.(msg.connectionId)
        return
      case 'event':
        return this.#onEvent(msg)
      case 'response':
        if (msg.correlationId === null) return
        this.#answered(msg.correlationId, msg.data)
        this.#pending.resolve(msg.correlationId, msg.data)
        return
      case 'error':
        if (msg.correlationId !== null && this.#pending.reject(msg.correlationId, msg.code, msg.message)) return
        return this.#emitError(new RoomcastError(msg.code, msg.message))
      case 'ping':
        return this.#send(this.#codec.encodePong())
      case 'pong':
        return
      case 'tokenExpiring':
        return void this.#refresh()
      case 'invalid':
        return this.#emitError(new RoomcastError('DECODE_ERROR', msg.message))
    }
  }

  #onEvent(msg: Extract<ServerMessage, { kind: 'event' }>): void {
    // Ack every copy (the server re-sends when our ack was lost), deliver only the first.
    if (msg.id !== null && this.#acks(msg.event)) this.#ack(msg.id)
    if (msg.position !== null && msg.channel !== null && !this.#next(msg.channel, msg.position)) return
    if (msg.id !== null && !this.#seen.add(`${msg.channel ?? ''}\u0000${msg.id}`)) return
    const meta: EventMeta = { event: msg.event, id: msg.id, channel: msg.channel, timestamp: msg.timestamp, position: msg.position }
    for (const fn of this.#handlers.get(msg.event) ?? []) this.#call(() => fn(msg.data, meta))
    for (const fn of this.#any) this.#call(() => fn(msg.event, msg.data, meta))
  }

  /**
   * Whether an event at `position` is the next one of its channel's stream. One seen already is
   * not. One past a gap is not either: events went missing (the server's link to its broker
   * blinked, say), so the client subscribes again with `since` its last position — the replay
   * brings the missing events and this one in order (docs/protocol.md A.8), or answers
   * `recovered: false` to onSubscribed listeners.
   */
  #next(channel: string, position: StreamPosition): boolean {
    const sub = this.#subs.get(channel)
    if (sub === undefined) return true
    const last = sub.position
    if (last !== null && last.epoch === position.epoch && position.offset <= last.offset) return false
    if (last !== null && (last.epoch !== position.epoch || position.offset > last.offset + 1)) {
      if (!sub.repairing) {
        sub.repairing = true
        this.#subscribeNow(channel, true)
          .catch((err: RoomcastError) => {
            // A lost connection re-subscribes by itself; anything else is worth telling.
            if (err.code !== 'CLOSED') this.#emitError(err)
          })
          .finally(() => (sub.repairing = false))
      }
      return false
    }
    sub.position = position
    return true
  }

  async #subscribeNow(channel: string, resubscribe: boolean): Promise<Subscribed> {
    const since = this.#subs.get(channel)?.position ?? undefined
    const id = this.#id()
    this.#subscribing.set(id, { channel, resubscribe })
    this.#send(this.#codec.encodeSubscribe(channel, id, since))
    try {
      return subscribedOf(channel, resubscribe, await this.#pending.wait(id, `subscribe ${channel}`, this.#timeout()))
    } finally {
      this.#subscribing.delete(id)
    }
  }

  /**
   * A subscribe's answer, handled as its frame arrives — before the events that follow it in the
   * same read, which must already see the position it sets and come after its listeners.
   */
  #answered(id: string, data: JsonObject): void {
    const subscribing = this.#subscribing.get(id)
    if (subscribing === undefined) return
    this.#subscribing.delete(id)
    const result = subscribedOf(subscribing.channel, subscribing.resubscribe, data)
    const sub = this.#subs.get(result.channel)
    // Recovered: the replay that follows moves the position on. Not recovered: start from the top.
    if (sub !== undefined && !result.recovered) sub.position = result.position
    for (const fn of this.#subscribedListeners) this.#call(() => fn(result))
  }

  // ── helpers ──────────────────────────────────────────────────────────────────────────

  /**
   * Queues an ack. Acks wait up to `ackDelay` ms and leave in one frame (`message_ids`,
   * docs/protocol.md A.8): one inbound frame for the server instead of one per event, which is
   * most of what at-least-once costs it; a copy re-sent while the first is still unacked is named
   * once. A socket that closes meanwhile drops them: the server re-sends what was not acked.
   */
  #ack(id: string): void {
    this.#acksDue.add(id)
    if (this.#acksDue.size > 1) return
    const delay = this.#opts.ackDelay ?? 20
    if (delay > 0) this.#ackTimer = setTimeout(() => this.#flushAcks(), delay)
    else queueMicrotask(() => this.#flushAcks())
  }

  /** Sends the queued acks in one frame, on the socket they arrived on (if it is still the one). */
  #flushAcks(): void {
    if (this.#ackTimer !== null) clearTimeout(this.#ackTimer)
    this.#ackTimer = null
    const ids = [...this.#acksDue]
    this.#acksDue.clear()
    if (ids.length > 0) this.#send(this.#codec.encodeAck(ids))
  }

  #send(frame: string): void {
    if (this.#socket?.readyState === OPEN) this.#socket.send(frame)
  }

  #id(): string {
    return `c${++this.#nextId}-${Math.random().toString(36).slice(2, 10)}`
  }

  #timeout(): number {
    return this.#opts.requestTimeout ?? 10_000
  }

  #whenOpen(): Promise<void> {
    if (this.#state === 'open') return Promise.resolve()
    if (this.#state === 'closed') return Promise.reject(new RoomcastError('CLOSED', 'Client is closed'))
    return new Promise((resolve, reject) => this.#openWaiters.add({ resolve, reject }))
  }

  #fail(err: RoomcastError): void {
    this.#pending.rejectAll(err.code, err.message)
    for (const w of this.#openWaiters) w.reject(err)
    this.#openWaiters.clear()
  }

  /** Whether close() was called (a check after an await, where the compiler's narrowing no longer holds). */
  #isClosed(): boolean {
    return this.#state === 'closed'
  }

  #setState(state: ClientState): void {
    if (this.#state === state) return
    this.#state = state
    for (const fn of this.#stateListeners) this.#call(() => fn(state))
  }

  #emitError(err: RoomcastError): void {
    for (const fn of this.#errorListeners) this.#call(() => fn(err))
  }

  #listen<F>(set: Set<F>, fn: F): () => void {
    set.add(fn)
    return () => set.delete(fn)
  }

  /** A listener that throws must not break the client's loop; it is reported asynchronously. */
  #call(fn: () => void): void {
    try {
      fn()
    } catch (err) {
      setTimeout(() => {
        throw err
      }, 0)
    }
  }
}

function tokenError(err: unknown): RoomcastError {
  return new RoomcastError('TOKEN_ERROR', `getToken failed: ${err instanceof Error ? err.message : String(err)}`)
}

function subscribedOf(channel: string, resubscribe: boolean, data: JsonObject): Subscribed {
  return { channel, recovered: data.recovered === true, position: readPosition(data), resubscribe }
}
