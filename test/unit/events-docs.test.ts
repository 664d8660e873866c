import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { SERVICES } from '../../services/index.js'
import { pino } from 'pino'
import { parseSettings } from '../../src/index.js'
import { describePayload, renderCatalogue, renderService } from '../../scripts/events-catalogue.js'

describe('docs/events.md', () => {
  it('matches the services\' schemas (run `npm run docs:events` after changing a schema or a service)', () => {
    const doc = readFileSync(new URL('../../docs/events.md', import.meta.url), 'utf8')
    expect(doc).toBe(renderCatalogue())
  })

  it('has a section for every registered service', () => {
    const catalogue = renderCatalogue()
    for (const name of Object.keys(SERVICES)) expect(catalogue).toContain(`\n## ${name}\n`)
  })

  it('marks required fields and reads their types from the schema', () => {
    const schema = z.looseObject({ id: z.string().min(1), n: z.number().int().nonnegative().optional(), tags: z.array(z.string()) })
    expect(describePayload(schema)).toBe('`id` **required**: non-empty string<br>`n`: integer ≥ 0<br>`tags` **required**: array of string')
  })

  it('marks the events delivery.tracked names as tracked, and only those', () => {
    const settings = parseSettings({ delivery: { tracked: ['workflow.*'] } })
    const workflow = SERVICES.workflow
    if (workflow === undefined) throw new Error('the registry has no workflow service')
    const section = renderService('workflow', 8690, workflow.create(settings, { logger: pino({ level: 'silent' }) }))
    expect(section).toMatch(/^\| `workflow\.started` \| yes \|/m)
    expect(section).toMatch(/^\| `pool\.status_changed` \| – \|/m)
  })
})
