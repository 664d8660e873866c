import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestClient } from '../helpers/client.js'
import { TestRedis } from '../helpers/redis.js'
import { freeServicePorts, pollUntil, ROOT, run, staleBuild } from '../helpers/supervisor.js'

/** `roomcast serve workflow` as a user runs it; resolves once it logged `listening`, with that record. */
async function serve(port: number, env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; listening: Record<string, unknown> }> {
  const child = spawn(process.execPath, ['bin/roomcast.js', 'serve', 'workflow', '--port', String(port)], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  const listening = await new Promise<Record<string, unknown>>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const line = out.split('\n').find((l) => l.includes('"msg":"listening"'))
      if (line !== undefined) resolve(JSON.parse(line) as Record<string, unknown>)
    })
    child.once('exit', (code) => reject(new Error(`roomcast exited ${code}:\n${out}`)))
  })
  return { child, listening }
}

describe('roomcast serve with Redis from the environment', () => {
  let redis: TestRedis
  const children: ChildProcess[] = []
  beforeAll(async () => {
    expect(staleBuild()).toBeNull()
    redis = await TestRedis.start()
  })
  afterAll(async () => {
    await Promise.all(children.filter((c) => c.exitCode === null).map((c) => (c.kill('SIGTERM'), once(c, 'exit'))))
    await redis?.kill()
  })

  it('clusters two processes over Redis given REDIS_ADDR and REDIS_PUBSUB_PREFIX, and roomcast status shows the cluster', async () => {
    const env = { REDIS_URL: '', REDIS_ADDR: `127.0.0.1:${redis.port}`, REDIS_DB: '2', REDIS_PUBSUB_PREFIX: `cli-${Date.now()}:` }
    const [p1, p2] = (await freeServicePorts(2)) as [number, number]
    const one = await serve(p1, env)
    const two = await serve(p2, env)
    children.push(one.child, two.child)
    expect(one.listening.bridge).toBe('connected')
    expect(two.listening.bridge).toBe('connected')

    const c = await TestClient.connect(`ws://127.0.0.1:${p2}/ws`)
    await c.subscribe('workflow:cli')
    const res = await fetch(`http://127.0.0.1:${p1}/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'workflow:cli', event: 'workflow.started', data: { workflow_id: 'cli' } }),
    })
    // Reached: the subscriber on the other instance, as that instance reported it.
    expect(await res.json()).toMatchObject({ delivered: 1, instances: 2 })
    expect((await c.next((f) => f.event === 'workflow.started')).data).toEqual({ workflow_id: 'cli' })
    await c.close()

    // Instances learn of each other from heartbeats: wait for the status line to show both.
    const line = await pollUntil('two instances in roomcast status', async () => {
      const r = await run(process.execPath, ['bin/roomcast.js', 'status', 'workflow', '--port', String(p1)])
      return r.stdout.includes('2 instances') ? r.stdout.trim() : undefined
    }, { timeoutMs: 30_000, everyMs: 100 })
    expect(line).toMatch(new RegExp(`^workflow: healthy on 127\\.0\\.0\\.1:${p1} \\(0 connections, 0 channels; redis connected, 2 instances\\)$`))
    // Four processes start and several status calls run: seconds each on a busy 2-core machine.
  }, 60_000)
})
