import { execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import type { IncomingMessage } from 'node:http'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { WorkflowServer } from '../../services/workflow/index.js'
import { parseSettings, SettingsError } from '../../src/index.js'
import { runCli } from '../helpers/cli.js'
import { TestClient } from '../helpers/client.js'
import { startService, type Started } from '../helpers/server.js'

const dir = mkdtempSync(join(tmpdir(), 'roomcast-tls-'))

/** A self-signed certificate for 127.0.0.1 and localhost, made by the openssl CLI. */
function selfSigned(name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`)
  const key = join(dir, `${name}.key`)
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' })
  return { cert, key }
}

const first = selfSigned('first')
const second = selfSigned('second')
const ca = readFileSync(first.cert)

describe('native TLS: tls {cert, key} serves https and wss on the service port', () => {
  let s: Started | undefined
  afterEach(async () => {
    await s?.server.close()
    s = undefined
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('a wss client trusting the certificate gets the welcome with secure: true; https serves /health', async () => {
    s = await startService('workflow', { tls: first })
    const c = await TestClient.connect(`wss://127.0.0.1:${s.port}/ws`, { ca, welcome: false })
    expect(await c.next()).toMatchObject({ event: 'session.created', data: { secure: true } })
    await c.subscribe('workflow:w1')
    s.server.emit('workflow:w1', 'workflow.started', { workflow_id: 'w1' })
    expect(await c.next()).toMatchObject({ event: 'workflow.started', room: 'workflow:w1' })
    await c.close()

    const req = request(`https://localhost:${s.port}/health`, { ca })
    req.end()
    const [res] = (await once(req, 'response')) as [IncomingMessage]
    res.resume()
    expect(res.statusCode).toBe(200)
  })

  it('a client that does not trust the certificate, or speaks plain ws, gets no connection', async () => {
    s = await startService('workflow', { tls: first })
    const untrusted = new WebSocket(`wss://127.0.0.1:${s.port}/ws`)
    const [err] = (await once(untrusted, 'error')) as [Error & { code?: string }]
    expect(err.code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT')
    const plain = new WebSocket(`ws://127.0.0.1:${s.port}/ws`)
    const closed = new Promise<number>((resolve) => plain.on('close', resolve))
    const [hangUp] = (await once(plain, 'error')) as [Error]
    expect(hangUp.message).toMatch(/socket hang up/)
    expect(await closed).toBe(1006)
    expect(s.server.stats.connectionsTotal).toBe(0)
  })

  it('a path that cannot be read, or a cert and key that do not belong together, fail at boot naming the setting and the file', () => {
    const problemsOf = (tls: { cert: string; key: string }) => {
      try {
        new WorkflowServer(parseSettings({ tls, log_level: 'silent' }))
      } catch (err) {
        if (err instanceof SettingsError) return err.problems
        throw err
      }
      throw new Error('expected a SettingsError')
    }
    const missing = join(dir, 'missing.crt')
    expect(problemsOf({ cert: missing, key: join(dir, 'missing.key') })).toEqual([
      `tls.cert: cannot read ${missing}: ENOENT`,
      `tls.key: cannot read ${join(dir, 'missing.key')}: ENOENT`,
    ])
    expect(problemsOf({ cert: first.cert, key: second.key })).toEqual([
      expect.stringMatching(new RegExp(`^tls: ${first.cert} and ${second.key} are not a PEM certificate and its private key: .*key values mismatch`)),
    ])
    expect(problemsOf({ cert: first.key, key: first.key })[0]).toMatch(/^tls: .* are not a PEM certificate and its private key/)
  })

  it('roomcast serve lists the TLS problems with the settings file named, exit 1', async () => {
    const file = join(dir, 'bad-tls.yaml')
    writeFileSync(file, `port: 0\ntls:\n  cert: ${join(dir, 'nope.crt')}\n  key: ${first.key}\n`)
    const r = await runCli(['serve', 'workflow', '--settings', file])
    expect(r.code).toBe(1)
    expect(r.stderr).toBe(`Invalid settings (${file}):\n  - tls.cert: cannot read ${join(dir, 'nope.crt')}: ENOENT\n`)
  })
})
