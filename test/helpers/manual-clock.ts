import type { Clock } from '../../src/delivery/clock.js'
import type { DeliveryTarget } from '../../src/delivery/delivery-types.js'

/** A clock whose time moves only when the test says so; timers run in due order. */
export class ManualClock implements Clock {
  t = 0
  readonly timers = new Set<{ at: number; fn: () => void }>()
  now(): number {
    return this.t
  }
  schedule(fn: () => void, ms: number): () => void {
    const timer = { at: this.t + Math.max(0, ms), fn }
    this.timers.add(timer)
    return () => this.timers.delete(timer)
  }
  advance(ms: number): void {
    const end = this.t + ms
    for (;;) {
      const next = [...this.timers].filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0]
      if (next === undefined) break
      this.timers.delete(next)
      this.t = next.at
      next.fn()
    }
    this.t = end
  }
}

/** A connection that records what it was sent, with the time. */
export class RecordingTarget implements DeliveryTarget {
  readonly got: { at: number; frame: Buffer }[] = []
  constructor(readonly id: string, readonly clock: ManualClock) {}
  sendFramed(frame: Buffer): boolean {
    this.got.push({ at: this.clock.now(), frame })
    return true
  }
  ids(): string[] {
    return this.got.map((g) => (JSON.parse(g.frame.toString('utf8', 2)) as { id: string }).id)
  }
}
