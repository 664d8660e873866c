import { afterEach, describe, expect, it } from 'vitest'
import type { WorkspaceServer } from '../../services/workspace/index.js'
import { workspaceEvents, type WorkspaceEventName } from '../../services/workspace/events.js'
import type { Frame } from '../helpers/client.js'
import { FlatClient } from '../helpers/flat.js'
import { callErr, callOk, httpClient, type Observed, startObserved } from '../helpers/observed.js'

const CHANNELS = ['files', 'diagnostics', 'ai-response', 'search', 'validation', 'git']

/** One valid payload per event, on its channel. */
const CASES: { event: WorkspaceEventName; channel: string; data: Record<string, unknown> }[] = [
  { event: 'file.changed', channel: 'files', data: { file: 'src/main.ts', event: 'change' } },
  { event: 'files.overflow', channel: 'files', data: { dropped: 12 } },
  { event: 'diagnostics.updated', channel: 'diagnostics', data: { diagnostics: [{ file: 'a.ts', message: 'x', severity: 'error', line: 1 }] } },
  { event: 'ai.chunk', channel: 'ai-response', data: { id: 'pub-1', chunk: 'hi', index: 0, finished: true } },
  { event: 'search.progress', channel: 'search', data: { query: 'q', count: 1, total: 3, results: ['a.ts'] } },
  { event: 'validation.complete', channel: 'validation', data: { result: { valid: true } } },
  { event: 'git.event', channel: 'git', data: { type: 'commit', message: 'commit: x' } },
]

let s: Observed & { server: WorkspaceServer }
const clients: FlatClient[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await s?.server.close()
})

async function start(settings: Record<string, unknown> = {}): Promise<void> {
  s = (await startObserved('workspace', settings)) as Observed & { server: WorkspaceServer }
}

/** A flat client past its `connected` frame. */
async function connect(): Promise<FlatClient> {
  const c = await FlatClient.open(s.url)
  clients.push(c)
  return c
}

async function subscribed(channels = CHANNELS): Promise<FlatClient> {
  const c = await connect()
  for (const channel of channels) expect(await c.op({ type: 'subscribe', channel })).toMatchObject({ success: true })
  return c
}

const nextEvent = (c: FlatClient, event: string) => c.next((f) => f.type === 'event' && f.event === event)

function postPublish(body: unknown): Promise<Response> {
  return fetch(`${s.http}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
}

describe('workspace service (flat dialect)', () => {
  it('typed emitters deliver each event on its channel, the payload passing its schema', async () => {
    await start()
    const c = await subscribed()
    const b = s.server.broadcast
    const sent = [
      b.fileChanged('src/main.ts', 'add'),
      b.diagnosticsUpdated([{ file: 'src/main.ts', message: 'unused variable', severity: 'warning', line: 4, column: 2 }]),
      b.aiChunk('r1', 'Hello', 0, false),
      b.searchProgress('TODO', 1, 4, [{ file: 'a.ts', line: 3 }]),
      b.validationComplete({ valid: false, errors: [{ message: 'missing name' }] }),
      b.gitEvent('branch', 'checkout: moving from main to feature', { branch: 'feature' }),
    ]
    for (const pub of sent) {
      const ev = await nextEvent(c, pub.event)
      expect(ev).toEqual({ type: 'event', id: pub.id, channel: pub.channel, event: pub.event, data: pub.data, timestamp: Date.parse(pub.timestamp) })
      expect(workspaceEvents[pub.event as WorkspaceEventName].safeParse(ev.data).success).toBe(true)
    }
    expect(sent.map((p) => p.channel)).toEqual(CHANNELS)
  })

  it('the same events publish over the socket, POST /publish and MCP ws_publish', async () => {
    await start({ allow_client_publish: true })
    const c = await subscribed()
    const mcp = await httpClient(s.mcpUrl)
    try {
      for (const [i, kase] of CASES.entries()) {
        const data = kase.event === 'ai.chunk' ? { ...kase.data, id: `stream-${i}` } : kase.data
        expect(await c.op({ type: 'publish', channel: kase.channel, event: kase.event, data })).toMatchObject({ success: true })
        expect((await nextEvent(c, kase.event)).data).toEqual(data)
        const viaHttp = kase.event === 'ai.chunk' ? { ...data, id: `http-${i}` } : data
        expect((await postPublish({ channel: kase.channel, event: kase.event, data: viaHttp })).status).toBe(200)
        expect((await nextEvent(c, kase.event)).data).toEqual(viaHttp)
        const viaMcp = kase.event === 'ai.chunk' ? { ...data, id: `mcp-${i}` } : data
        expect(await callOk(mcp, 'ws_publish', { channel: kase.channel, event: kase.event, data: viaMcp })).toMatchObject({ delivered: 1 })
        expect((await nextEvent(c, kase.event)).data).toEqual(viaMcp)
      }
    } finally {
      await mcp.close()
    }
  })

  it('refuses bad payloads and events on the wrong channel with INVALID_EVENT, on every path', async () => {
    await start({ allow_client_publish: true })
    const c = await connect()
    const bad: [string, string, Record<string, unknown>, RegExp][] = [
      ['files', 'file.changed', { file: '/etc/passwd', event: 'change' }, /file/],
      ['files', 'file.changed', { file: 'a.ts', event: 'rename' }, /event/],
      ['diagnostics', 'diagnostics.updated', { diagnostics: [{ message: 'no file' }] }, /file/],
      ['ai-response', 'ai.chunk', { id: 'r', chunk: 'x', index: 0 }, /finished/],
      ['search', 'search.progress', { query: 'q', count: 5, total: 2, results: [] }, /count/],
      ['validation', 'validation.complete', { result: {} }, /valid/],
      ['git', 'git.event', { message: 'no type' }, /type/],
      ['files', 'git.event', { type: 'commit', message: 'x' }, /published on git, not files/],
      ['git', 'no.such', {}, /Unknown event/],
    ]
    const mcp = await httpClient(s.mcpUrl)
    try {
      for (const [channel, event, data, why] of bad) {
        const ack = await c.op({ type: 'publish', channel, event, data })
        expect(ack, `${event} ${JSON.stringify(data)}`).toMatchObject({ success: false, code: 'INVALID_EVENT' })
        expect(String(ack.error)).toMatch(why)
        const res = await postPublish({ channel, event, data })
        expect(res.status).toBe(400)
        expect(await res.json()).toMatchObject({ code: 'INVALID_EVENT' })
        expect(await callErr(mcp, 'ws_publish', { channel, event, data })).toMatch(/INVALID_EVENT/)
      }
    } finally {
      await mcp.close()
    }
  })

  it('refuses a socket publish unless allow_client_publish; a refused chunk keeps no place in its stream', async () => {
    await start()
    const c = await connect()
    expect(await c.op({ type: 'publish', channel: 'search', event: 'search.progress', data: CASES[4]!.data })).toMatchObject({
      success: false,
      code: 'FORBIDDEN',
    })
    const chunk = { id: 'e', chunk: 'x', index: 0, finished: false }
    expect(await c.op({ type: 'publish', channel: 'ai-response', event: 'ai.chunk', data: chunk })).toMatchObject({ code: 'FORBIDDEN' })
    expect(s.server.broadcast.aiChunk('e', 'x', 0, false).data).toMatchObject({ index: 0 })
  })

  it('ai-response: the chunks of one id arrive in index order and end with finished:true; out of order is refused', async () => {
    await start({ allow_client_publish: true })
    const sub = await subscribed(['ai-response'])
    const producer = await connect()
    const words = ['The', ' quick', ' brown', ' fox', '.']
    // Two interleaved streams, one in process and one over the socket.
    for (const [i, w] of words.entries()) {
      s.server.broadcast.aiChunk('a', w, i, i === words.length - 1)
      const ack = await producer.op({ type: 'publish', channel: 'ai-response', event: 'ai.chunk', data: { id: 'b', chunk: w, index: i, finished: i === words.length - 1 } })
      expect(ack).toMatchObject({ success: true })
    }
    const got: Record<string, Frame['data'][]> = { a: [], b: [] }
    while (got.a!.length + got.b!.length < 2 * words.length) {
      const ev = await nextEvent(sub, 'ai.chunk')
      got[ev.data!.id as string]!.push(ev.data)
    }
    for (const id of ['a', 'b']) {
      expect(got[id]!.map((d) => d!.index)).toEqual([0, 1, 2, 3, 4])
      expect(got[id]!.map((d) => d!.chunk).join('')).toBe('The quick brown fox.')
      expect(got[id]!.map((d) => d!.finished)).toEqual([false, false, false, false, true])
    }
    const refused = [
      { id: 'c', chunk: 'x', index: 1, finished: false }, // a stream starts at 0
      { id: 'a', chunk: 'x', index: 5, finished: false }, // a finished stream takes nothing more
    ]
    for (const data of refused) {
      expect(await producer.op({ type: 'publish', channel: 'ai-response', event: 'ai.chunk', data })).toMatchObject({ success: false, code: 'INVALID_EVENT' })
    }
    expect(() => s.server.broadcast.aiChunk('d', 'x', 0, false)).not.toThrow()
    expect(() => s.server.broadcast.aiChunk('d', 'x', 2, false)).toThrow(/out of order, expected 1/)
    expect(() => s.server.broadcast.aiChunk('d', 'y', 1, true)).not.toThrow()
  })
})
