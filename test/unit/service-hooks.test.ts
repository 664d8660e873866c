import { describe, expect, it } from 'vitest'
import { SERVICES } from '../../services/index.js'
import { parseSettings } from '../../src/config/settings.js'
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
