import { afterEach, beforeEach, expect, it } from 'vitest'
import type { WebSocketServer } from '../../src/index.js'
import { TestClient } from './client.js'
import { broadcastEach, type EventCase, expectEveryEventCovered, publishEach, publishError } from './events.js'
import { startService, type Started } from './server.js'

/** A payload the service must refuse with INVALID_EVENT, and the field the message must name. */
export interface InvalidCase {
  readonly channel: string
  readonly event: string
  readonly data: Record<string, unknown>
  readonly names: RegExp
}

/** What every envelope service's suite shares, given to its own cases. */
export interface ServiceSuite<S> {
  readonly server: S
  readonly client: TestClient
  readonly url: string
}

/**
 * Inside a `describe`: starts the service with client publishes allowed and one connected client
 * before each case, closes both after, and adds the cases every envelope service must pass — its
 * welcome text, every declared event published over the socket and through the typed broadcaster,
 * and INVALID_EVENT naming the field for each invalid payload.
 */
export function envelopeServiceSuite<S extends WebSocketServer & { broadcast: object }>(
  name: string,
  opts: { readonly welcome: string; readonly cases: readonly EventCase[]; readonly invalid: readonly InvalidCase[] },
): ServiceSuite<S> {
  let s: Started<S> | undefined
  let c: TestClient | undefined
  beforeEach(async () => {
    s = await startService<S>(name, { allow_client_publish: true })
    c = await TestClient.connect(s.url)
  })
  afterEach(async () => {
    await c?.close()
    await s?.server.close()
  })
  const suite: ServiceSuite<S> = {
    get server() {
      return s!.server
    },
    get client() {
      return c!
    },
    get url() {
      return s!.url
    },
  }

  it(`welcomes with its own text ("${opts.welcome}")`, async () => {
    const raw = new TestClient(suite.url)
    expect((await raw.next()).data).toMatchObject({ server: name, message: opts.welcome })
    await raw.close()
  })

  it('delivers every declared event published over the socket on its channel', async () => {
    expectEveryEventCovered(suite.server, opts.cases)
    await publishEach(suite.client, opts.cases)
  })

  it('routes every event of the typed broadcaster to its default channel', async () => {
    await broadcastEach(suite.server, suite.client, opts.cases)
  })

  it('rejects an invalid payload with INVALID_EVENT naming the field', async () => {
    for (const bad of opts.invalid) {
      const err = await publishError(suite.client, bad.channel, bad.event, bad.data)
      expect(err.code).toBe('INVALID_EVENT')
      expect(err.message).toMatch(bad.names)
    }
  })

  return suite
}
