#!/usr/bin/env node
// The load generator: a separate process (pinned to its own core by bench/run.js) that runs
// one scenario against one server and reports the result over IPC.
import { channels, fanout, presence, rtt, storm } from './scenarios.js'
import { reconnect } from './reconnect.js'
import { abuse } from './abuse.js'
import { PROTOCOLS } from './client.js'

const SCENARIOS = { fanout, channels, storm, rtt, reconnect, abuse, presence }

function send(msg) {
  return new Promise((resolve) => process.send(msg, resolve))
}

process.once('message', async ({ scenario, protocol, cfg }) => {
  const mark = (name) => process.send({ type: 'mark', name })
  // Tells the runner `type` and resolves with its answer (the next message).
  const ask = (type, info = {}) =>
    new Promise((resolve) => {
      process.once('message', resolve)
      process.send({ type, ...info })
    })
  const waitRelease = async (info) => {
    await ask('holding', info)
  }
  // Resolves when the runner sees the server done with what came before (bench/lib/runner.js 'settle').
  const settle = () => ask('settle')
  try {
    const result = await SCENARIOS[scenario](PROTOCOLS[protocol], cfg, mark, waitRelease, settle)
    await send({ type: 'result', result })
  } catch (err) {
    await send({ type: 'error', message: err.stack ?? String(err) })
  }
  process.exit(0)
})
