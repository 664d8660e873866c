// Requests and answers over a forked child's IPC channel, shared by the chaos run's helper
// processes (client-host.mjs, proxy-host.mjs): the harness calls an op by name and gets its result
// (or its error) by id; every call still waiting fails when the child exits.
import { fork } from 'node:child_process'

/** The harness's side: forks `module` with `argv` and calls the ops it serves (serveRpc). */
export class ChildRpc {
  /** `name` says which child in errors; `onExit(code, signal)` hears its exit. */
  constructor(module, argv, { name, onExit } = {}) {
    this.name = name ?? module
    this.child = fork(module, argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.seq = 0
    this.waiting = new Map()
    this.child.on('message', (m) => {
      const w = this.waiting.get(m.id)
      if (w === undefined) return
      this.waiting.delete(m.id)
      if (m.error !== undefined) w.reject(new Error(m.error))
      else w.resolve(m.result)
    })
    this.child.on('exit', (code, signal) => {
      onExit?.(code, signal)
      for (const w of this.waiting.values()) w.reject(new Error(`${this.name} exited (${code ?? signal})`))
      this.waiting.clear()
    })
  }

  /** Whether the child has not exited. */
  get running() {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  /** Op `op` in the child with `args`: its result; rejects with its error, or when the child is gone or exits first. */
  call(op, ...args) {
    if (!this.running) return Promise.reject(new Error(`${this.name} is not running`))
    const id = this.seq++
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject })
      this.child.send({ id, op, args })
    })
  }
}

/** The child's side: answers each request with `ops[op](...args)` (awaited); `answered(op)` runs after each answer went out. */
export function serveRpc(ops, { answered } = {}) {
  process.on('message', async ({ id, op, args }) => {
    try {
      if (!Object.hasOwn(ops, op)) throw new Error(`unknown op ${op}`)
      const result = await ops[op](...args)
      process.send({ id, result: result ?? null })
      answered?.(op)
    } catch (e) {
      process.send({ id, error: String(e?.stack ?? e) })
    }
  })
}
