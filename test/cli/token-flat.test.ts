import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { verifyHmacToken } from '../../src/auth/hmac-token.js'
import { CliProcess, runCli } from '../helpers/cli.js'
import { FlatClient } from '../helpers/flat.js'

const SECRET = 'a-context-secret-for-the-cli'

describe('roomcast token --dialect flat (built dist/, real processes)', () => {
  const procs: CliProcess[] = []
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.stop()))
  })

  it('mints a token the production context service accepts (WS_AUTH_SECRET); the agent gets its private channel', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roomcast-tok-'))
    writeFileSync(join(dir, 'context.yaml'), 'port: 0\nmcp:\n  enabled: false\n')
    const env = { ROOMCAST_SETTINGS_DIR: dir, WS_AUTH_SECRET: SECRET, NODE_ENV: 'production' }
    const p = new CliProcess(['serve', 'context'], env)
    procs.push(p)
    const port = await p.port('context')
    const minted = await runCli(['token', 'context', '--dialect', 'flat', '--agent', 'deployer', '--session', 's9'], env)
    expect(minted.code, minted.stderr).toBe(0)
    expect(minted.stderr).toBe('')
    const token = minted.stdout.trim()
    expect(verifyHmacToken(token, SECRET)).toMatchObject({ ok: true, claims: { agentId: 'deployer', sessionId: 's9' } })
    const c = await FlatClient.open(`ws://127.0.0.1:${port}/`, { token })
    expect(await c.subscribeFlat('agents/deployer')).toMatchObject({ success: true })
    const anon = await FlatClient.open(`ws://127.0.0.1:${port}/`)
    expect(await anon.op({ type: 'auth', agent_id: 'deployer' })).toMatchObject({ success: false, code: 'AUTH_FAILED' })
    await Promise.all([c.close(), anon.close()])
  })

  it('the service name alone picks the flat dialect; without a service the development secret is used and said', async () => {
    const byService = await runCli(['token', 'context', '--agent', 'a1', '--secret', SECRET, '--ttl', '60'])
    expect(byService.code, byService.stderr).toBe(0)
    const claims = verifyHmacToken(byService.stdout.trim(), SECRET)
    expect(claims.ok && claims.claims.exp - Math.floor(Date.now() / 1000)).toBeGreaterThan(50)
    const dev = await runCli(['token', '--dialect', 'flat', '--agent', 'a1'], { WS_AUTH_SECRET: '' })
    expect(dev.code).toBe(0)
    expect(verifyHmacToken(dev.stdout.trim(), 'dcm-dev-secret-change-me').ok).toBe(true)
    expect(dev.stderr).toMatch(/development secret/)
  })

  it.each([
    [['token', '--dialect', 'flat'], /--agent ID is required/],
    [['token', '--dialect', 'flat', '--agent', 'a', '--user', 'u'], /use --agent/],
    [['token', '--dialect', 'smoke', '--agent', 'a'], /--dialect: expected envelope or flat/],
    [['token', 'workflow', '--agent', 'a'], /--agent and --session are for --dialect flat/],
  ])('%j → exit 2 with the reason', async (args, message) => {
    const r = await runCli(args)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(message)
  })

  it('refuses to mint for a production service still on the development secret, naming the key', async () => {
    const r = await runCli(['token', 'context', '--agent', 'a'], { NODE_ENV: 'production', WS_AUTH_SECRET: 'dcm-dev-secret-change-me' })
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/auth\.token_secret: the development default/)
  })
})
