import { execFile } from 'node:child_process'
import { SignJWT } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { startService, type Started } from '../helpers/server.js'

const PYTHON = '/usr/bin/python3'
const SCRIPT = new URL('./python_token_expiry.py', import.meta.url).pathname
const SECRET = 'python-expiry-secret-0123456789'
const KEYS = ['id', 'correlation_id', 'type', 'event', 'data', 'timestamp', 'room', 'error_code', 'error_message']

type Frame = Record<string, unknown>
interface Step {
  step: string
  frame?: Frame
  frames?: Frame[]
  code?: number
  reason?: string
}

function run(args: string[]): Promise<{ code: number; steps: Step[]; stderr: string }> {
  return new Promise((resolve) => {
    execFile(PYTHON, [SCRIPT, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      const steps = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Step)
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, steps, stderr })
    })
  })
}

const jwt = (exp: number) =>
  new SignJWT({ user_id: 'py', permissions: ['workflow:read'] }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setExpirationTime(exp).sign(new TextEncoder().encode(SECRET))

// docs/auth.md "Refresh": the Python mcp_common client knows no refresh. It must keep working:
// the warning is one more well-formed envelope event its handlers may ignore, the close at exp is
// 4001, and it reconnects with the token it has.
describe('an mcp_common-style Python client through a token expiry (auth.required)', () => {
  let s: Started
  afterEach(async () => s?.server.close())

  it('gets token.expiring as a nine-key event, is closed 4001 Token expired at exp, and reconnects with a fresh token', async () => {
    s = await startService('workflow', { auth: { required: true, secret: SECRET, expiry_warning: 1 } })
    // Far enough ahead for the Python client to start and authenticate on a busy host (it once took > 2 s).
    const exp = Math.floor(Date.now() / 1000) + 6
    const { code, steps, stderr } = await run([s.url, await jwt(exp), await jwt(exp + 3600)])
    expect(code, stderr).toBe(0)
    expect(steps.map((x) => x.step)).toEqual(['auth', 'handled', 'closed', 'auth', 'status'])
    expect(steps[0]!.frame).toMatchObject({ type: 'response', event: 'auth', data: { status: 'authenticated', user_id: 'py' } })
    const warning = steps[1]!.frames!.find((f) => f.event === 'token.expiring')
    expect(Object.keys(warning!)).toEqual(KEYS)
    expect(warning).toMatchObject({ type: 'event', room: null, correlation_id: null, data: { expires_at: new Date(exp * 1000).toISOString() } })
    expect(steps[2]).toMatchObject({ code: 4001, reason: 'Token expired' })
    expect(steps[3]!.frame).toMatchObject({ type: 'response', event: 'auth', data: { status: 'authenticated', user_id: 'py' } })
    expect(steps[4]!.frame).toMatchObject({ type: 'response', event: 'get_status', data: { service: 'workflow' } })
  })
})
