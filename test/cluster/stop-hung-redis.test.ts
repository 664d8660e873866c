import { once } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { CliProcess, PROCESS_TEST_TIMEOUT, settingsWriter } from '../helpers/cli.js'
import { TestRedis } from '../helpers/redis.js'

/**
 * SIGTERM while Redis accepts and never answers (a redis-server stopped with SIGSTOP): the
 * process still closes its clients with 1001 and exits 0, without waiting for Redis. Before the
 * fix the stop waited on Redis (the broker's last publish and QUIT, the context state's MULTI),
 * and once that wait outlived fastify's 10 s hook timeout the process never exited at all, even
 * after Redis came back.
 */
/** Safety bound of the exit: the stop takes ~4 s with Redis stopped (three 1 s bounded steps and a 1 s socket teardown). */
const EXIT_SAFETY_MS = 45_000

const procs: CliProcess[] = []
const redises: TestRedis[] = []
afterEach(async () => {
  for (const r of redises) r.pause(false)
  await Promise.all(procs.splice(0).map((p) => p.stop()))
  await Promise.all(redises.splice(0).map((r) => r.kill()))
})

describe.each(['context', 'workflow'])('roomcast serve %s, SIGTERM while Redis is stopped', (service) => {
  it(
    'closes its client with 1001 and exits 0 without waiting for Redis',
    async () => {
      const redis = await TestRedis.start()
      redises.push(redis)
      const { dir, write } = settingsWriter('roomcast-stop-hung-')
      write(`${service}.yaml`, 'port: 0\nmcp:\n  enabled: false\n')
      const proc = new CliProcess(['serve', service], { ROOMCAST_SETTINGS_DIR: dir, REDIS_URL: redis.url })
      procs.push(proc)
      const port = await proc.port(service)

      const ws = new WebSocket(`ws://127.0.0.1:${port}/?agent_id=stop-hung`)
      ws.on('error', () => {})
      await once(ws, 'open')
      const closed = once(ws, 'close') as Promise<[number, Buffer]>

      redis.pause(true)
      const started = Date.now()
      let timer: NodeJS.Timeout | undefined
      const outcome = await Promise.race([
        proc.signal('SIGTERM'),
        new Promise<'still running'>((resolve) => (timer = setTimeout(() => resolve('still running'), EXIT_SAFETY_MS))),
      ])
      clearTimeout(timer)
      const took = Date.now() - started

      expect(outcome, `${took} ms after SIGTERM:\n${proc.stdout}${proc.stderr}`).toBe(0)
      const [code] = await closed
      expect(code).toBe(1001)
      expect(proc.stdout).toContain('"msg":"drained"')
    },
    PROCESS_TEST_TIMEOUT,
  )
})
