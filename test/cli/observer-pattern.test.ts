import { describe, expect, it } from 'vitest'
import { compileObserverPattern } from '../../src/protocol/channels.js'
import { type Frame, TestClient } from '../helpers/client.js'
import { cliProcesses, PROCESS_TEST_TIMEOUT, settingsWriter } from '../helpers/cli.js'

const { write: settingsFile } = settingsWriter('roomcast-observer-')

/** A publish's safety bound: answered in milliseconds (measured 2–60 ms at load 15). */
const ANSWER_MS = 10_000

/** Twelve `*a` then `b`: as a backtracking regular expression, `^.*a.*a…b$` tries ~n^13 ways on a long run of `a`s. */
const HOSTILE = `*${'a*'.repeat(12)}b`

describe('observer patterns (docs/protocol.md A.9) against a running service', { timeout: PROCESS_TEST_TIMEOUT }, () => {
  const start = cliProcesses()

  it('a pattern of many `*` costs a publication no more than a plain one: the service answers, the observer gets what matches', async () => {
    const file = settingsFile('workflow.yaml', 'mcp:\n  enabled: false\n')
    const p = start(['serve', 'workflow', '--port', '0', '--settings', file])
    const port = await p.port('workflow')
    const observer = await TestClient.connect(`ws://127.0.0.1:${port}/ws`)
    expect((await observer.request('observe', { pattern: HOSTILE })).data).toEqual({ status: 'observing', pattern: HOSTILE })
    const publish = async (id: string) => {
      const res = await fetch(`http://127.0.0.1:${port}/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ channel: `workflow:${id}`, event: 'workflow.started', data: { workflow_id: id } }),
        signal: AbortSignal.timeout(ANSWER_MS),
      })
      return res.status
    }
    // 190 `a`s and no `b`: the channel does not match, and finding that out must not take the event loop.
    expect(await publish('a'.repeat(190))).toBe(200)
    const matching = `${'a'.repeat(12)}b`
    expect(await publish(matching)).toBe(200)
    const got = await observer.next((f: Frame) => f.type === 'event' && f.event === 'workflow.started')
    expect(got.room).toBe(`workflow:${matching}`)
    await observer.close()
  })
})

describe('observer pattern matching', () => {
  it('is the pattern with `*` as any run of characters, anchored at both ends', () => {
    const cases: [string, string, boolean][] = [
      ['workflow:*', 'workflow:w1', true],
      ['workflow:*', 'workflow:', true],
      ['workflow:*', 'xworkflow:w1', false],
      ['*:w1', 'workflow:w1', true],
      ['*:w1', 'workflow:w12', false],
      ['a*b*c', 'abc', true],
      ['a*b*c', 'aXbYc', true],
      ['a*b*c', 'acb', false],
      ['a*a', 'a', false],
      ['a*a', 'aa', true],
      ['ab*ba', 'aba', false],
      ['ab*ba', 'abba', true],
      ['*x*', 'x', true],
      ['**', 'anything', true],
      ['a**b', 'ab', true],
      ['topics/100%', 'topics/100%', true],
      ['a.b', 'aXb', false],
      ['sessions/*', 'sessions/s1', true],
      ['x', 'x', true],
      ['x', 'xx', false],
    ]
    for (const [pattern, channel, expected] of cases) expect([pattern, channel, compileObserverPattern(pattern)(channel)]).toEqual([pattern, channel, expected])
  })
})
