import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DashboardServer } from '../../src/dashboard/dashboard-server.js'
import type { ServiceTarget } from '../../src/dashboard/status-poll.js'
import { launchChromium } from '../helpers/browser.js'
import { startService, type Started } from '../helpers/server.js'
import { ROOT } from '../helpers/supervisor.js'

const services = new Map<string, Started>()
let dashboard: DashboardServer
let base: string
let browser: Browser

const target = (name: string, dialect: string, s: Started): ServiceTarget => ({ name, dialect, http: s.http, ws: s.url })

async function publish(service: string, channel: string, event: string, data: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${services.get(service)?.http}/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ channel, event, data }),
  })
  expect(res.status).toBe(200)
}

/** Screenshots go to docs/ when UPDATE_SCREENSHOTS=1 (npm run screenshots), else to a temporary folder. */
const shot = (name: string) => join(process.env.UPDATE_SCREENSHOTS === '1' ? join(ROOT, 'docs') : tmpdir(), name)

const rows = (page: Page) => page.locator('ol.events > li:not([hidden])')

beforeAll(async () => {
  services.set('workflow', await startService('workflow'))
  // No metric.update every 5 s among the events the /live test counts (a busy run outlasts one interval).
  services.set('context', await startService('context', { context: { metrics_interval: 3600 } }))
  const targets = [target('workflow', 'envelope', services.get('workflow') as Started), target('context', 'flat', services.get('context') as Started)]
  dashboard = new DashboardServer({ host: '127.0.0.1', port: 0, services: targets, assets: join(ROOT, 'dist/dashboard'), logger: pino({ level: 'silent' }) })
  base = `http://127.0.0.1:${(await dashboard.listen()).port}`
  browser = await launchChromium()
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await dashboard?.close()
  for (const s of services.values()) await s.server.close()
})

describe('the dashboard in headless Chromium (docs/dashboard.md)', () => {
  it('/live shows events sent with POST /publish, filters them, and expands one to its JSON', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 700 } })
    await page.goto(`${base}/live`)
    await page.locator('.conns li.open').nth(1).waitFor()
    // The live view subscribes after opening; an event published before that is not in the stream.
    await expect.poll(() => services.get('workflow')?.server.roomCounts().global ?? 0, { timeout: 20_000 }).toBe(1)
    await expect.poll(() => services.get('context')?.server.roomCounts().global ?? 0, { timeout: 20_000 }).toBe(1)
    await publish('workflow', 'global', 'task.assigned', { task_id: 'task-1' })
    await publish('context', 'global', 'system.info', { message: 'hello from context' })
    await expect.poll(() => rows(page).count()).toBe(2)

    await page.selectOption('select[name=service]', 'context')
    await expect.poll(() => rows(page).count()).toBe(1)
    expect(await rows(page).first().getAttribute('data-event')).toBe('system.info')
    await page.selectOption('select[name=service]', '')
    await page.fill('input[name=event]', 'task.')
    await expect.poll(() => rows(page).count()).toBe(1)
    expect(await rows(page).first().getAttribute('data-service')).toBe('workflow')
    await page.fill('input[name=event]', '')

    await page.click('button[name=pause]')
    await publish('workflow', 'global', 'task.assigned', { task_id: 'while-paused' })
    await page.click('button[name=pause]')
    await publish('workflow', 'global', 'task.assigned', { task_id: 'task-2' })
    await expect.poll(() => rows(page).count()).toBe(3)
    await rows(page).first().locator('summary').click()
    expect(JSON.parse(await rows(page).first().locator('pre').innerText())).toMatchObject({ event: 'task.assigned', channel: 'global', data: { task_id: 'task-2' } })
    await page.screenshot({ path: shot('live.png') })
    await page.close()
  })

  it('/dashboard: a card per service; counters move under a burst; a stopped service turns down and comes back up', async () => {
    const live = await browser.newPage()
    await live.goto(`${base}/live`) // a subscriber, so that a burst makes deliveries
    await expect.poll(() => services.get('workflow')?.server.roomCounts().global ?? 0, { timeout: 20_000 }).toBeGreaterThanOrEqual(1)
    const page = await browser.newPage({ viewport: { width: 1200, height: 500 } })
    await page.goto(`${base}/dashboard`)
    const card = (name: string) => page.locator(`section.card[data-service=${name}]`)
    await card('workflow').and(page.locator('.up')).waitFor()
    await card('context').and(page.locator('.up')).waitFor()
    const deliveries = async () => Number(await card('workflow').locator('[data-key=deliveries] .value').innerText())
    const before = await deliveries()
    for (let i = 0; i < 30; i++) await publish('workflow', 'global', 'task.assigned', { task_id: `burst-${i}` })
    await expect.poll(deliveries, { timeout: 20_000 }).toBeGreaterThanOrEqual(before + 30)
    await page.screenshot({ path: shot('dashboard.png') })

    const workflow = services.get('workflow') as Started
    await workflow.server.close()
    await card('workflow').and(page.locator('.down')).waitFor({ timeout: 20_000 })
    services.set('workflow', await startService('workflow', { port: workflow.port }))
    await card('workflow').and(page.locator('.up')).waitFor({ timeout: 20_000 })
    await page.close()
    await live.close()
  })
})
