import type { JsonObject, Publication } from '../../src/index.js'
import { BoundedMap } from '../../src/util/bounded-map.js'

/** How much the patterns service remembers. */
export interface PatternsCaps {
  /** Categories kept (least recently updated evicted). @default 1000 */
  readonly categories: number
  /** Recent patterns kept per category. @default 100 */
  readonly perCategory: number
  /** Recent anomalies and insights kept. @default 100 */
  readonly recent: number
}

interface Recent {
  readonly items: JsonObject[]
  total: number
}

/** Appends and drops the oldest beyond `cap`. */
function push(list: Recent, item: JsonObject, cap: number): void {
  list.items.push(item)
  list.total++
  if (list.items.length > cap) list.items.splice(0, list.items.length - cap)
}

/** What the patterns service remembers: recent patterns per category, recent anomalies and insights. */
export class PatternsProjection {
  readonly caps: PatternsCaps
  readonly categories: BoundedMap<string, Recent>
  readonly anomalies: Recent = { items: [], total: 0 }
  readonly insights: Recent = { items: [], total: 0 }
  lastAggregation: JsonObject | null = null

  constructor(caps: Partial<PatternsCaps> = {}) {
    this.caps = { categories: 1000, perCategory: 100, recent: 100, ...caps }
    this.categories = new BoundedMap(this.caps.categories)
  }

  /** Folds one delivered event into the state. Payloads were validated by the event schemas. */
  apply(pub: Publication): void {
    const item = { ...pub.data, event_id: pub.id, timestamp: pub.timestamp }
    switch (pub.event) {
      case 'pattern.detected': {
        const key = String(pub.data.category)
        const recent = this.categories.get(key) ?? { items: [], total: 0 }
        push(recent, item, this.caps.perCategory)
        this.categories.set(key, recent)
        return
      }
      case 'anomaly.detected':
        return push(this.anomalies, item, this.caps.recent)
      case 'insight.generated':
        return push(this.insights, item, this.caps.recent)
      case 'aggregation.completed':
        this.lastAggregation = item
    }
  }

  /** The answer of get_patterns {category}: newest first; an unseen category is not_found with no patterns. */
  patterns(category: string): JsonObject {
    const recent = this.categories.get(category)
    if (recent === undefined) return { category, status: 'not_found', patterns: [], count: 0, total: 0 }
    const patterns = [...recent.items].reverse()
    return { category, patterns, count: patterns.length, total: recent.total }
  }

  /** The answer of get_anomalies: newest first. */
  recentAnomalies(): JsonObject {
    const anomalies = [...this.anomalies.items].reverse()
    return { anomalies, count: anomalies.length, total: this.anomalies.total }
  }
}
