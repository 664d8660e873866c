import { describe, expect, it } from 'vitest'
import { TokenBucket } from '../../src/server/rate-limiter.js'

const takeAll = (b: TokenBucket, now: number, n: number) => Array.from({ length: n }, () => b.take(now))

describe('TokenBucket', () => {
  it('starts full at 1.5× the rate, then refills at the rate', () => {
    const b = new TokenBucket(10, 0)
    expect(takeAll(b, 0, 16).filter((w) => w === 0)).toHaveLength(15)
    expect(b.take(0)).toBeCloseTo(0.1)
    expect(b.take(100)).toBe(0)
  })

  it('holds at least one token, so a rate under 2/3 per second still passes a frame', () => {
    const b = new TokenBucket(0.5, 0)
    expect(b.take(0)).toBe(0)
    expect(b.take(0)).toBeCloseTo(2)
    expect(b.take(2000)).toBe(0)
  })

  it('a clock that steps back does not drain the bucket', () => {
    const b = new TokenBucket(1, 10_000)
    expect(b.take(10_000)).toBe(0)
    expect(b.take(5_000)).toBeGreaterThan(0)
    expect(b.take(6_000)).toBe(0)
  })
})

describe('TokenBucket counting bytes', () => {
  it('takes a cost, and says how long until a refused cost fits (taking nothing)', () => {
    const b = new TokenBucket(1000, 0)
    expect(b.burst).toBe(1500)
    expect(b.take(0, 1000)).toBe(0)
    expect(b.take(0, 1000)).toBeCloseTo(0.5)
    expect(b.take(500, 1000)).toBe(0)
  })

  it('lets a cost larger than the bucket through when it is full, then stays in debt until repaid', () => {
    const b = new TokenBucket(1000, 0)
    expect(b.take(0, 4000)).toBe(0) // full: passes, 2,500 in debt
    expect(b.take(0, 1)).toBeCloseTo(2.501)
    expect(b.take(2000, 4000)).toBeCloseTo(2) // 1,000 back is not a full bucket
    expect(b.take(4000, 4000)).toBe(0)
  })
})
