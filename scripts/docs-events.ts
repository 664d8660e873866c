// `npm run docs:events`: rewrites docs/events.md from the services' schemas.
import { writeFileSync } from 'node:fs'
import { renderCatalogue } from './events-catalogue.js'

const target = new URL('../docs/events.md', import.meta.url)
writeFileSync(target, renderCatalogue())
console.log(`wrote ${target.pathname}`)
