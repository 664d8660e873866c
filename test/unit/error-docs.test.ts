import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { CloseCode, ErrorCode } from '../../src/index.js'
import { CLOSE_CODES, CloseReason, ERROR_CODES } from '../../src/protocol/codes.js'

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')
const rows = (section: string) => {
  const body = doc.split(/^## /m).find((s) => s.startsWith(section)) ?? ''
  return [...body.matchAll(/^\| `?([A-Z_0-9]+)`? \|/gm)].map((m) => m[1])
}

describe('docs/errors.md', () => {
  it('documents exactly the error codes of the table', () => {
    expect(rows('Error codes').sort()).toEqual(Object.keys(ERROR_CODES).sort())
    expect(Object.keys(ERROR_CODES).sort()).toEqual(Object.values(ErrorCode).sort())
  })

  it('documents exactly the close codes of the table', () => {
    expect(rows('Close codes').map(Number).sort()).toEqual(Object.keys(CLOSE_CODES).map(Number).sort())
    expect(Object.keys(CLOSE_CODES).map(Number).sort()).toEqual(Object.values(CloseCode).sort())
  })

  it('keeps every close reason under 123 bytes and names it in the doc', () => {
    for (const reason of Object.values(CloseReason)) {
      expect(Buffer.byteLength(reason)).toBeLessThan(123)
      expect(doc).toContain(`\`${reason}\``)
    }
  })
})
