import { SignJWT } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { RoomcastClient, type ClientState, type RoomcastError } from '../../src/client/index.js'
import { signHmacToken, type JsonObject, type SettingsInput } from '../../src/index.js'
import { startService, type Started } from '../helpers/server.js'

// docs/client.md "Expiring tokens": with getToken the client authenticates every connection with a
// fresh token, refreshes on the server's warning without leaving the connection, and after close
// 4001 reconnects at once. Tokens live about 2 s (exp is whole seconds); waits are on events.

const HMAC_SECRET = 'client-refresh-hmac-secret-0123'
const JWT_SECRET = 'client-refresh-jwt-secret-0123456789'

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

/** An exp (seconds since the epoch) `seconds` from now. */
const expIn = (seconds: number) => Math.floor(Date.now() / 1000) + seconds

interface Dialect {
  readonly name: 'flat' | 'envelope'
  readonly service: string
  readonly settings: SettingsInput
  readonly url: (s: Started) => string
  readonly auth?: JsonObject
  /** A token of the test's user expiring at `exp`. */
  token(exp: number): Promise<string>
  readonly channel: string
  publish(s: Started, marker: string): Promise<unknown>
  readonly event: string
}

const DIALECTS: Dialect[] = [
  {
    name: 'flat',
    service: 'context',
    settings: { environment: 'production', auth: { token_secret: HMAC_SECRET, expiry_warning: 1 } },
    url: (s) => s.url,
    auth: { agent_id: 'alice', session_id: 's1' },
    token: async (exp) => signHmacToken({ agentId: 'alice', sessionId: 's1' }, HMAC_SECRET, 0, exp * 1000),
    channel: 'topics/x',
    publish: (s, marker) => s.server.publish('topics/x', 'message.new', { content: marker }),
    event: 'message.new',
  },
  {
    name: 'envelope',
    service: 'workflow',
    settings: { auth: { required: true, secret: JWT_SECRET, expiry_warning: 1 } },
    url: (s) => s.url,
    token: (exp) =>
      new SignJWT({ user_id: 'alice', permissions: ['workflow:read'] })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setExpirationTime(exp)
        .sign(new TextEncoder().encode(JWT_SECRET)),
    channel: 'workflow:w1',
    publish: (s, marker) => s.server.publish('workflow:w1', 'workflow.started', { workflow_id: marker }),
    event: 'workflow.started',
  },
]

async function start(d: Dialect): Promise<Started> {
  const s = await startService(d.service, d.settings)
  cleanup.push(() => s.server.close())
  return s
}

function client(opts: ConstructorParameters<typeof RoomcastClient>[0]): RoomcastClient {
  const c = new RoomcastClient(opts)
  cleanup.push(() => c.close())
  return c
}

/** Resolves once `fn` has been called `n` times in all (fn is wrapped by the returned `call`). */
function counted<T>(n: number, fn: (i: number) => Promise<T>): { call: () => Promise<T>; reached: Promise<void>; readonly calls: number } {
  let calls = 0
  let done!: () => void
  const reached = new Promise<void>((r) => (done = r))
  return {
    call: () => {
      calls++
      if (calls === n) done()
      return fn(calls)
    },
    reached,
    get calls() {
      return calls
    },
  }
}

/** The next payload of `event` whose marker field equals `marker`. */
function marked(c: RoomcastClient, event: string, marker: string): Promise<void> {
  return new Promise((resolve) => {
    const off = c.onAny((name, data) => {
      if (name === event && Object.values(data).includes(marker)) {
        off()
        resolve()
      }
    })
  })
}

describe.each(DIALECTS)('roomcast/client getToken, $name dialect', (d) => {
  it('stays connected across three expiries of ~2 s tokens: refreshed on the same connection, subscriptions kept', async () => {
    const s = await start(d)
    const exps: number[] = []
    // Call 1 connects; calls 2-4 refresh before the expiries of tokens 1-3; call 5 comes after token 3's exp.
    const tokens = counted(5, async () => {
      const exp = expIn(2)
      exps.push(exp)
      return d.token(exp)
    })
    const c = client({ url: d.url(s), dialect: d.name, auth: d.auth, getToken: tokens.call })
    const states: ClientState[] = []
    const errors: RoomcastError[] = []
    c.onState((st) => states.push(st))
    c.onError((e) => errors.push(e))
    await c.connect()
    const connectionId = c.connectionId
    await c.subscribe(d.channel)
    await tokens.reached
    expect(Date.now()).toBeGreaterThanOrEqual(exps[2]! * 1000)
    expect(states).toEqual(['connecting', 'open'])
    expect(c.connectionId).toBe(connectionId)
    expect(errors).toEqual([])
    expect(s.server.stats.tokenExpiredCloses).toBe(0)
    const got = marked(c, d.event, 'after three expiries')
    await d.publish(s, 'after three expiries')
    await got
  })
})

describe('roomcast/client getToken failures', () => {
  const d = DIALECTS[0]!

  it('a refresh that fails is reported; close 4001 at exp is followed by an immediate reconnect with a fresh token (no backoff)', async () => {
    const s = await start(d)
    const tokens = counted(3, async (i) => {
      if (i === 2) throw new Error('token service down')
      return d.token(expIn(i === 1 ? 2 : 60))
    })
    // A reconnect that waited for backoff (a minute) would miss the test's safety timeout.
    const c = client({ url: d.url(s), dialect: d.name, auth: d.auth, getToken: tokens.call, backoff: { initial: 60_000, max: 60_000 } })
    const errors: RoomcastError[] = []
    const states: ClientState[] = []
    c.onError((e) => errors.push(e))
    c.onState((st) => states.push(st))
    await c.connect()
    await c.subscribe(d.channel)
    const first = c.connectionId
    const back = new Promise<void>((resolve) => c.onSubscribed((sub) => sub.resubscribe && resolve()))
    await back
    expect(c.connectionId).not.toBe(first)
    expect(tokens.calls).toBe(3)
    expect(s.server.stats.tokenExpiredCloses).toBe(1)
    expect(errors.map((e) => e.code)).toEqual(['TOKEN_ERROR'])
    expect(errors[0]!.message).toContain('token service down')
    expect(states).toEqual(['connecting', 'open', 'reconnecting', 'open'])
    const got = marked(c, d.event, 'after the reconnect')
    await d.publish(s, 'after the reconnect')
    await got
  })

  it('a getToken that fails on connect is reported through onError and retried with backoff', async () => {
    const s = await start(d)
    const tokens = counted(2, async (i) => {
      if (i === 1) throw new Error('not yet')
      return d.token(expIn(60))
    })
    const c = client({ url: d.url(s), dialect: d.name, auth: d.auth, getToken: tokens.call, backoff: { initial: 50, max: 50 } })
    const errors: RoomcastError[] = []
    c.onError((e) => errors.push(e))
    await c.connect()
    expect(tokens.calls).toBe(2)
    expect(errors.map((e) => e.code)).toEqual(['TOKEN_ERROR'])
    expect(c.state).toBe('open')
  })
})
