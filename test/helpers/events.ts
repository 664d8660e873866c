import { expect } from 'vitest'
import { methodName } from '../../services/common/broadcaster.js'
import type { WebSocketServer } from '../../src/index.js'
import type { TestClient } from './client.js'

/** One declared event with a valid payload and the channel it is published to. */
export interface EventCase {
  readonly event: string
  readonly channel: string
  readonly data: Record<string, unknown>
}

/** Fails unless `cases` covers exactly the events the service declares. */
export function expectEveryEventCovered(server: WebSocketServer, cases: readonly EventCase[]): void {
  expect(new Set(cases.map((c) => c.event))).toEqual(new Set(Object.keys(server.spec.events)))
}

/** Publishes each case over the socket and waits for it to arrive on its channel with its payload. */
export async function publishEach(client: TestClient, cases: readonly EventCase[]): Promise<void> {
  for (const c of new Set(cases.map((x) => x.channel))) expect((await client.subscribe(c)).data?.status).toBe('subscribed')
  for (const c of cases) {
    const res = await client.request('publish', { channel: c.channel, event: c.event, data: c.data })
    expect(res.type, JSON.stringify(res)).toBe('response')
    const ev = await client.next((f) => f.type === 'event' && f.event === c.event && f.room === c.channel)
    expect(ev.data).toEqual(c.data)
  }
}

/** Broadcasts each case in process through the service's typed broadcaster and waits for it on its default channel. */
export async function broadcastEach(
  server: WebSocketServer & { broadcast: object },
  client: TestClient,
  cases: readonly EventCase[],
): Promise<void> {
  for (const c of new Set(cases.map((x) => x.channel))) await client.subscribe(c)
  const methods = server.broadcast as Record<string, (data: unknown) => { channel: string }>
  for (const c of cases) {
    const method = methods[methodName(c.event)]
    expect(method, `broadcast.${methodName(c.event)}`).toBeTypeOf('function')
    expect(method!(c.data).channel).toBe(c.channel)
    const ev = await client.next((f) => f.type === 'event' && f.event === c.event && f.room === c.channel)
    expect(ev.data).toEqual(c.data)
  }
}

/** Publishes over the socket and returns the error frame, failing when the publish was accepted. */
export async function publishError(client: TestClient, channel: string, event: string, data: unknown): Promise<{ code: unknown; message: string }> {
  const res = await client.request('publish', { channel, event, data })
  expect(res.type, JSON.stringify(res)).toBe('error')
  return { code: res.error_code, message: String(res.error_message) }
}
