import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { startService, type Started } from '../helpers/server.js'
import { ROOT } from '../helpers/supervisor.js'

const PYTHON = '/usr/bin/python3'
const SCRIPT = new URL('./python_presence.py', import.meta.url).pathname
const SECRET = 'python-presence-secret-0123456789'
const KEYS = ['id', 'correlation_id', 'type', 'event', 'data', 'timestamp', 'room', 'error_code', 'error_message']

type Frame = Record<string, unknown> & { data?: Record<string, unknown> }
interface Step {
  step: string
  sent: Frame | null
  got: Frame
}

function run(url: string, frames: Record<string, Frame>): Promise<{ code: number; steps: Step[]; stderr: string }> {
  const file = join(mkdtempSync(join(tmpdir(), 'roomcast-py-presence-')), 'frames.json')
  writeFileSync(file, JSON.stringify(frames))
  return new Promise((resolve) => {
    execFile(PYTHON, [SCRIPT, url, file], { timeout: 60_000 }, (err, stdout, stderr) => {
      const steps = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Step)
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, steps, stderr })
    })
  })
}

/**
 * The example frames of docs/protocol.md A.10 that start with `start`, as objects: their elisions
 * (`, …}` for the envelope's other keys, `…` inside an id) read as the end of the object and as text.
 */
function documented(start: string): Frame[] {
  const doc = readFileSync(join(ROOT, 'docs', 'protocol.md'), 'utf8')
  const section = doc.slice(doc.indexOf('### A.10'), doc.indexOf('## B.'))
  return section
    .split('\n')
    .filter((line) => line.startsWith(start))
    .map((line) => JSON.parse(line.replace(/, …}$/, '}')) as Frame)
}
const one = (start: string): Frame => {
  const found = documented(start)
  expect(found, start).toHaveLength(1)
  return found[0]!
}
const keys = (o: unknown) => Object.keys(o as object).sort()

const jwt = (user: string) =>
  new SignJWT({ user_id: user, permissions: ['workflow:read'] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setExpirationTime(Math.floor(Date.now() / 1000) + 600)
    .sign(new TextEncoder().encode(SECRET))

describe('a Python client (python3-websockets) reads presence with the frames docs/protocol.md A.10 shows', () => {
  let s: Started
  afterEach(async () => s?.server.close())

  it('auth, subscribe, the join of another, presence and presence_stats, PRESENCE_NOT_ENABLED, the leave', async () => {
    s = await startService('workflow', { auth: { secret: SECRET }, presence: [{ channel: 'workflow:{id}', join_leave: true }] })
    // The requests exactly as documented (the channel is the doc's own workflow:w1).
    const presence = one('{"type":"request","event":"presence",')
    const presenceStats = one('{"type":"request","event":"presence_stats",')
    const channel = presence.data!.channel as string
    const frames: Record<string, Frame> = {
      auth_alice: { type: 'request', event: 'auth', data: { token: await jwt('alice') }, correlation_id: 'a1' },
      auth_bob: { type: 'request', event: 'auth', data: { token: await jwt('bob') }, correlation_id: 'a2' },
      subscribe: { type: 'request', event: 'subscribe', data: { channel }, correlation_id: 's1' },
      presence,
      presence_stats: presenceStats,
      presence_off: { type: 'request', event: 'presence', data: { channel: 'global' }, correlation_id: 'p4' },
    }
    const { code, steps, stderr } = await run(s.url, frames)
    expect(code, stderr).toBe(0)
    const got = (step: string) => {
      const found = steps.find((x) => x.step === step)
      expect(found, `step ${step}; stderr: ${stderr}`).toBeDefined()
      return found!.got
    }
    const alice = got('welcome_alice').data!.connection_id
    const bob = got('welcome_bob').data!.connection_id
    expect(got('auth_alice').data).toMatchObject({ status: 'authenticated', user_id: 'alice' })

    // join: the documented event, bob as its data.
    const join = got('join')
    const docJoin = one('{"type":"event","event":"join",')
    expect(keys(join)).toEqual([...KEYS].sort())
    expect(keys(join.data)).toEqual(keys(docJoin.data))
    expect(join.data).toMatchObject({ connection_id: bob, user_id: 'bob', session_id: null, instance: s.server.instanceId })

    // presence: the documented response, both members.
    const answer = got('presence')
    const docAnswer = one('{"type":"response","event":"presence",')
    expect(keys(answer)).toEqual([...KEYS].sort())
    expect(answer).toMatchObject({ type: 'response', event: 'presence', correlation_id: presence.correlation_id, error_code: null })
    expect(keys(answer.data)).toEqual(keys(docAnswer.data))
    const members = answer.data!.members as Frame[]
    for (const m of members) expect(keys(m)).toEqual(keys((docAnswer.data!.members as Frame[])[0]))
    expect(answer.data).toMatchObject({ channel, count: 2, clients: 2, users: 2 })
    expect(members.map((m) => [m.user_id, m.connection_id]).sort()).toEqual([
      ['alice', alice],
      ['bob', bob],
    ])
    for (const m of members) expect(new Date(m.connected_at as string).toISOString()).toBe(m.connected_at)

    // presence_stats: the documented response, the counts alone.
    const stats = got('presence_stats')
    const docStats = one('{"type":"response","event":"presence_stats",')
    expect(keys(stats.data)).toEqual(keys(docStats.data))
    expect(stats).toMatchObject({ type: 'response', event: 'presence_stats', correlation_id: presenceStats.correlation_id, data: { channel, clients: 2, users: 2 } })

    // A channel keeping no presence: the documented error.
    expect(got('presence_off')).toMatchObject({ type: 'error', correlation_id: 'p4', error_code: 'PRESENCE_NOT_ENABLED', error_message: 'Channel global keeps no presence (settings: presence)' })

    // bob leaves: his leave, with the data of his join; one member left.
    expect(got('leave').data).toEqual(join.data)
    expect(got('presence_stats_after').data).toEqual({ channel, clients: 1, users: 1 })
  })
})
