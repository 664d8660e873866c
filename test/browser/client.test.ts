import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { build } from 'esbuild'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type * as Client from '../../src/client/index.js'
import { launchChromium } from '../helpers/browser.js'
import { startService, type Started } from '../helpers/server.js'
import { ROOT } from '../helpers/supervisor.js'

let browser: Browser
let page: Server
let s: Started

/** The client bundled for the browser from its sources, as an application would bundle it. */
async function clientBundle(): Promise<string> {
  const out = await build({
    entryPoints: [join(ROOT, 'src/client/index.ts')],
    bundle: true,
    format: 'iife',
    globalName: 'roomcast',
    platform: 'browser',
    write: false,
    logLevel: 'silent',
  })
  return out.outputFiles[0]?.text ?? ''
}

beforeAll(async () => {
  const script = await clientBundle()
  page = createServer((req, res) => {
    if (req.url === '/client.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(script)
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>client</title><script src="/client.js"></script>')
  })
  page.listen(0, '127.0.0.1')
  await once(page, 'listening')
  s = await startService('workflow')
  browser = await launchChromium()
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await s?.server.close()
  page?.close()
})

describe('roomcast/client in headless Chromium', () => {
  it('the same client code subscribes and receives in a browser page', async () => {
    const tab = await browser.newPage()
    await tab.goto(`http://127.0.0.1:${(page.address() as AddressInfo).port}/`)
    const subscribed = await tab.evaluate(async (url) => {
      const w = globalThis as unknown as { roomcast: typeof Client; got: unknown[] }
      w.got = []
      const c = new w.roomcast.RoomcastClient({ url, dialect: 'envelope' })
      c.on('workflow.started', (data) => w.got.push(data))
      await c.connect()
      return c.subscribe('workflow:b1')
    }, s.url)
    expect(subscribed).toMatchObject({ channel: 'workflow:b1', recovered: false })
    await s.server.publish('workflow:b1', 'workflow.started', { workflow_id: 'b1' })
    await tab.waitForFunction(() => (globalThis as unknown as { got: unknown[] }).got.length > 0)
    expect(await tab.evaluate(() => (globalThis as unknown as { got: unknown[] }).got)).toEqual([{ workflow_id: 'b1' }])
  })
})
