import { readFileSync } from 'node:fs'
import { createContext, runInContext } from 'node:vm'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import type { ContextServer } from '../../services/context/index.js'
import { FlatClient } from '../helpers/flat.js'
import { startService, type Started } from '../helpers/server.js'

/**
 * The DCM clients' own examples, run unmodified in a sandbox whose `WebSocket` is the `ws`
 * library's (it has the browser's onopen/onmessage/event.data surface). The snippets name
 * ws://127.0.0.1:3849; the sandbox's WebSocket sends them to the test's port instead, so that
 * test runs never depend on 3849 being free.
 */
interface Sandbox {
  logs: unknown[][]
  received: Record<string, unknown>[]
  sockets: WebSocket[]
  error: unknown
}

function run(file: string, port: number): Sandbox {
  const box: Sandbox = { logs: [], received: [], sockets: [], error: null }
  class SandboxWebSocket extends WebSocket {
    constructor(url: string) {
      super(url.replace('127.0.0.1:3849', `127.0.0.1:${port}`))
      box.sockets.push(this)
      this.on('message', (raw) => box.received.push(JSON.parse(raw.toString()) as Record<string, unknown>))
    }
  }
  const context = createContext({
    WebSocket: SandboxWebSocket,
    console: { log: (...args: unknown[]) => box.logs.push(args) },
    setInterval: () => 0,
    JSON,
    Date,
  })
  const code = readFileSync(new URL(`../fixtures/${file}`, import.meta.url), 'utf8')
  try {
    runInContext(code, context)
  } catch (err) {
    box.error = err
  }
  return box
}

/** Resolves once `check` holds for the sandbox, re-checking on every frame it receives. */
async function until(box: Sandbox, check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; received ${JSON.stringify(box.received).slice(0, 600)}`)
    await new Promise((resolve) => box.sockets[0]!.once('message', resolve).once('close', resolve))
  }
}

let s: Started<ContextServer>
const boxes: Sandbox[] = []
afterEach(async () => {
  for (const b of boxes.splice(0)) for (const ws of b.sockets) ws.terminate()
  await s?.server.close()
})

describe('the DCM clients’ examples against the context service', () => {
  it('the context manager README’s “Client Usage”: connects, subscribes, authenticates, logs events', async () => {
    s = await startService<ContextServer>('context', { allow_client_publish: true })
    const box = run('dcm-client-snippet.js', s.port)
    boxes.push(box)
    // The snippet publishes at top level before the socket is open: a browser throws there
    // (InvalidStateError), and so does ws. The handlers set above that line keep working.
    expect(String(box.error)).toMatch(/not open: readyState 0 \(CONNECTING\)/)
    await until(box, () => box.received.some((f) => f.type === 'ack' && f.id === undefined && f.agent_id === 'my-agent'), 'the auth ack')
    expect(box.received[0]).toMatchObject({ type: 'connected', client_id: expect.stringMatching(/^ws_/) })
    expect(box.received.find((f) => f.id === 'sub-1')).toMatchObject({ type: 'ack', success: true })
    const other = await FlatClient.open(s.url)
    await other.publishFlat('global', 'task.completed', { task_id: 't1', status: 'completed' })
    await other.publishFlat('sessions/abc123', 'session.ended', { session_id: 'abc123' })
    await other.close()
    await until(box, () => box.logs.length >= 3, 'three logged events')
    expect(box.logs).toEqual([
      // Its own first connection, on global (docs/protocol.md B, the context service).
      ['Event: agent.connected', { agent_id: 'my-agent' }],
      ['Event: task.completed', { task_id: 't1', status: 'completed' }],
      ['Event: session.ended', { session_id: 'abc123' }],
    ])
  })

  it('the WebSocket server README’s “Connect, Subscribe, Handle Events”: answers pings, acknowledges tracked events', async () => {
    s = await startService<ContextServer>('context', { allow_client_publish: true, flat: { ping_interval: 0.05, heartbeat_timeout: 60 } })
    const box = run('dcm-client-handlers.js', s.port)
    boxes.push(box)
    expect(box.error).toBeNull()
    await until(box, () => box.logs.some((l) => l[0] === 'Ack:' && l[1] === 'sub-metrics' && l[2] === true), 'the subscribe ack')
    expect(box.logs[0]).toEqual(['Connected as', expect.stringMatching(/^ws_/)])
    // The server pings; the example answers with a pong (counted as life by the server).
    await until(box, () => box.received.some((f) => f.type === 'ping'), 'a server ping')
    s.server.publish('agents/my-agent', 'message.new', { content: 'Migration complete', priority: 1 })
    await until(box, () => box.logs.some((l) => l[0] === '[agents/my-agent] message.new'), 'the logged event')
    expect(box.logs.find((l) => l[0] === '[agents/my-agent] message.new')?.[1]).toEqual({ content: 'Migration complete', priority: 1 })
  })
})
