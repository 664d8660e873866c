import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { SERVICES } from '../../services/index.js'
import { parseSettings } from '../../src/config/settings.js'
import type { Connection } from '../../src/server/connection.js'
import { coreHooks } from '../../src/server/service-hooks.js'
import { WebSocketServer } from '../../src/server/websocket-server.js'

/** Every member name of the core server, its accessors included. */
function coreMembers(): Set<string> {
  const names = new Set<string>()
  for (let p: object | null = WebSocketServer.prototype; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    for (const name of Object.getOwnPropertyNames(p)) if (name !== 'constructor') names.add(name)
  }
  return names
}

describe('services extend the core by their spec’s hooks alone', () => {
  it('no service class redefines a member of WebSocketServer (lint forbids `override` in services/ too)', () => {
    const core = coreMembers()
    expect(core.has('publish')).toBe(true)
    const settings = parseSettings({ log_level: 'silent' })
    for (const entry of Object.values(SERVICES)) {
      const server = entry.create(settings)
      const redefined: string[] = []
      for (let p = Object.getPrototypeOf(server) as object; p !== WebSocketServer.prototype; p = Object.getPrototypeOf(p) as object) {
        for (const name of Object.getOwnPropertyNames(p)) if (name !== 'constructor' && core.has(name)) redefined.push(name)
      }
      for (const name of Object.getOwnPropertyNames(server)) if (core.has(name)) redefined.push(name)
      expect({ service: entry.name, redefined }).toEqual({ service: entry.name, redefined: [] })
    }
  })
})

/** `n` subscribe answers wait on the hook until they give up; then each wait is registered with `registry`. */
async function waitOn(hooks: ReturnType<typeof coreHooks>, n: number, registry: FinalizationRegistry<number>): Promise<void> {
  const waits: (Promise<void> | null)[] = []
  for (let i = 0; i < n; i++) waits.push(hooks.onSubscribe({} as Connection, 'c'))
  await Promise.all(waits)
  waits.forEach((w, i) => registry.register(w as object, i))
}

describe('a hook promise the answers wait for', () => {
  it('a request that stopped waiting (HOOK_WAIT_MS) is not kept by the promise still pending: a hung store costs nothing per request', async () => {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    // A save Redis never answers: every request's answer waits on it, and gives up after HOOK_WAIT_MS.
    const hung = new Promise<void>(() => {})
    const hooks = coreHooks({ onSubscribe: () => hung }, pino({ level: 'silent' }))
    const n = 200
    const gone = new Set<number>()
    const registry = new FinalizationRegistry<number>((i) => gone.add(i))
    await waitOn(hooks, n, registry)
    // Collects until every request's wait is gone (finalizers run in a later turn); 100 rounds are the safety bound.
    for (let round = 0; round < 100 && gone.size < n; round++) {
      gc()
      await new Promise((resolve) => setImmediate(resolve))
    }
    const collected = gone.size
    // `hung` stays referenced to the end: a promise still pending, as a hung store's save is.
    expect({ collected, hung }).toEqual({ collected: n, hung: expect.any(Promise) })
  })
})
