import { describe, expect, it } from 'vitest'
import { cliProcesses, PROCESS_TEST_TIMEOUT, settingsWriter } from '../helpers/cli.js'
import { FlatClient } from '../helpers/flat.js'

/** Safety timeout of a re-send 0.5 s after the first send: many times that on a busy host. */
const RESEND_WAIT_MS = 10_000

async function deliveryOf(port: number): Promise<{ tracked_events: string[]; pending: number; tracked: number }> {
  const stats = (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as { delivery: { tracked_events: string[]; pending: number; tracked: number } }
  return stats.delivery
}

/**
 * What makes a service what it is holds under any settings file (docs/configuration.md, "A
 * service's own defaults"): a file that leaves a key out gets the service's own default, not the
 * built-in one; only a value written in the file changes it.
 */
describe("a service's own defaults under a settings file of one's own (built dist/, real processes)", () => {
  const start = cliProcesses()
  const files = settingsWriter('roomcast-own-defaults-')

  it('context with a file that sets only delivery.ack_timeout: task.*, subtask.*, message.* are tracked, anonymous agents publish over the socket', async () => {
    const file = files.write('context.yaml', 'port: 0\nlog_format: json\nmcp:\n  enabled: false\ndelivery:\n  ack_timeout: 0.5\n')
    const p = start(['serve', 'context', '--settings', file])
    const port = await p.port('context')
    expect((await deliveryOf(port)).tracked_events).toEqual(expect.arrayContaining(['task.created', 'subtask.created', 'message.new']))
    const watcher = await FlatClient.open(`ws://127.0.0.1:${port}/`, { agent_id: 'watcher' })
    expect(await watcher.subscribeFlat('sessions/s1')).toMatchObject({ success: true })
    // No agent id: anonymous, which may publish because the context service allows it by default.
    const anon = await FlatClient.open(`ws://127.0.0.1:${port}/`)
    expect(await anon.publishFlat('sessions/s1', 'task.created', { task_id: 't1', session_id: 's1' })).toMatchObject({ success: true })
    const first = await watcher.event('task.created', 'sessions/s1')
    // Not acknowledged: sent again ack_timeout later, with the same id.
    const again = await watcher.event('task.created', 'sessions/s1', RESEND_WAIT_MS)
    expect(again.id).toBe(first.id)
    await Promise.all([watcher.close(), anon.close()])
  }, PROCESS_TEST_TIMEOUT)

  it('context with delivery.tracked: [] tracks nothing, and says so at boot', async () => {
    const file = files.write('untracked.yaml', 'port: 0\nlog_format: json\nmcp:\n  enabled: false\ndelivery:\n  tracked: []\n')
    const p = start(['serve', 'context', '--settings', file])
    const port = await p.port('context')
    expect(p.logs().find((l) => /delivery\.tracked/.test(String(l.msg)))).toMatchObject({ level: 40, service: 'context' })
    const watcher = await FlatClient.open(`ws://127.0.0.1:${port}/`, { agent_id: 'watcher' })
    expect(await watcher.subscribeFlat('sessions/s1')).toMatchObject({ success: true })
    const anon = await FlatClient.open(`ws://127.0.0.1:${port}/`)
    expect(await anon.publishFlat('sessions/s1', 'task.created', { task_id: 't1', session_id: 's1' })).toMatchObject({ success: true })
    await watcher.event('task.created', 'sessions/s1')
    // Delivered once, untracked: nothing waits for an ack, so nothing is ever re-sent.
    expect(await deliveryOf(port)).toMatchObject({ tracked_events: [], pending: 0, tracked: 0 })
    await Promise.all([watcher.close(), anon.close()])
  }, PROCESS_TEST_TIMEOUT)
})
