/** The text payload of a frame built by textFrame (server/frame.ts): the bytes after its 2-, 4- or 10-byte header. */
export function frameText(frame: Buffer): string {
  const len = (frame[1] ?? 0) & 0x7f
  const head = len < 126 ? 2 : len === 126 ? 4 : 10
  return frame.toString('utf8', head)
}
