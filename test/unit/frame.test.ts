import * as ws from 'ws'
import { describe, expect, it } from 'vitest'
import { textFrame } from '../../src/server/frame.js'

// ws's own framing, used as the reference: a pre-framed broadcast must be byte-identical to
// what ws.send(text) would have written.
const Sender = (ws as unknown as { Sender: { frame(data: Buffer, opts: object): Buffer[] } }).Sender

function wsFrame(text: string): Buffer {
  return Buffer.concat(Sender.frame(Buffer.from(text), { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false }))
}

describe('textFrame', () => {
  it.each([0, 1, 125, 126, 127, 300, 65535, 65536, 70000])('frames %i bytes exactly as ws does', (n) => {
    const text = 'a'.repeat(n)
    expect(textFrame(text).equals(wsFrame(text))).toBe(true)
  })

  it('counts bytes, not characters, for multi-byte text', () => {
    const text = `{"emoji":"${'🙂'.repeat(40)}","é":"ü"}`
    const frame = textFrame(text)
    expect(frame.equals(wsFrame(text))).toBe(true)
    expect(frame[0]).toBe(0x81) // FIN + text opcode
    expect(frame.subarray(4).toString('utf8')).toBe(text)
  })
})
