/**
 * Frames a server-to-client text message once (RFC 6455 §5.2: FIN, opcode 1, unmasked),
 * header and payload in one buffer, so a broadcast writes the same bytes to every subscriber
 * instead of having ws frame (and copy) it once per socket.
 */
export function textFrame(text: string): Buffer {
  const length = Buffer.byteLength(text)
  const head = length < 126 ? 2 : length < 65536 ? 4 : 10
  const frame = Buffer.allocUnsafe(head + length)
  frame[0] = 0x81
  if (length < 126) {
    frame[1] = length
  } else if (length < 65536) {
    frame[1] = 126
    frame.writeUInt16BE(length, 2)
  } else {
    frame[1] = 127
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2)
    frame.writeUInt32BE(length >>> 0, 6)
  }
  frame.write(text, head, 'utf8')
  return frame
}
