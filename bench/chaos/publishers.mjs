// Publishing paths other than the socket: POST /publish, the MCP tool ws_publish, and a row in
// the PostgreSQL outbox (roomcast_emit, docs/postgres.md). Each resolves with what the server
// answered: {ok: true, …}, {ok: false, code} for a refusal, {ok: null, code} when no answer came
// (the outcome is unknown: the checker owes such a publication to nobody).
/* global fetch, AbortSignal */
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import pg from 'pg'

export async function httpPublish(port, channel, event, data) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel, event, data }),
      signal: AbortSignal.timeout(10000),
    })
    const body = await res.json().catch(() => null)
    if (res.ok) return { ok: true, id: body?.id ?? null, off: body?.offset ?? null, ep: body?.epoch ?? null }
    // A 5xx without our JSON (an instance dying mid-request) is no answer.
    if (body?.code === undefined) return { ok: null, code: `HTTP_${res.status}` }
    return { ok: false, code: body.code, status: res.status, msg: String(body.error ?? '').slice(0, 200) }
  } catch (e) {
    return { ok: null, code: e.name === 'TimeoutError' ? 'TIMEOUT' : 'NO_ANSWER' }
  }
}

/** One MCP session per instance, opened again after any transport failure. */
export class McpPublisher {
  constructor(port) {
    this.port = port
    this.client = null
  }

  async #session() {
    if (this.client !== null) return this.client
    const client = new Client({ name: 'roomcast-chaos', version: '1.0.0' })
    await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${this.port}/mcp`)))
    this.client = client
    return client
  }

  async publish(channel, event, data) {
    let client
    try {
      client = await this.#session()
    } catch {
      return { ok: null, code: 'NO_SESSION' }
    }
    try {
      const r = await client.callTool({ name: 'ws_publish', arguments: { channel, event, data } }, undefined, { timeout: 10000 })
      if (r.isError) {
        const text = r.content?.[0]?.text ?? ''
        const code = /^([A-Z_]+):/.exec(text)?.[1]
        if (code === undefined || code === 'SERVER_ERROR') return { ok: null, code: 'MCP_ERROR', msg: text.slice(0, 200) }
        return { ok: false, code, msg: text.slice(0, 200) }
      }
      const s = r.structuredContent ?? {}
      return { ok: true, id: s.id ?? null, off: s.offset ?? null, ep: s.epoch ?? null }
    } catch (e) {
      // The session died with its worker or instance: the next call opens a new one.
      this.client = null
      client.close().catch(() => {})
      return { ok: null, code: 'MCP_TRANSPORT', msg: String(e.message).slice(0, 200) }
    }
  }

  close() {
    this.client?.close().catch(() => {})
  }
}

/** Events as rows of the outbox: committed means accepted by the database. */
export class OutboxPublisher {
  constructor(url) {
    this.url = url
    this.client = null
    this.pid = null
  }

  async #conn() {
    if (this.client !== null) return this.client
    const c = new pg.Client({ connectionString: this.url })
    c.on('error', () => {
      if (this.client === c) this.client = null
    })
    await c.connect()
    this.pid = (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid
    this.client = c
    return c
  }

  /** One statement at a time on the connection, in order (pg would queue them anyway). */
  publish(channel, event, data) {
    const run = (this.queue ?? Promise.resolve()).then(() => this.#publish(channel, event, data))
    this.queue = run
    return run
  }

  async #publish(channel, event, data) {
    try {
      const c = await this.#conn()
      const r = await c.query('SELECT roomcast_emit($1, $2, $3::jsonb) AS id', [channel, event, JSON.stringify(data)])
      return { ok: true, row: String(r.rows[0].id) }
    } catch (e) {
      this.client?.end().catch(() => {})
      this.client = null
      return { ok: null, code: 'PG_ERROR', msg: String(e.message).slice(0, 200) }
    }
  }

  close() {
    this.client?.end().catch(() => {})
  }
}
