import { constants } from 'node:fs'
import { open, realpath } from 'node:fs/promises'
import { join } from 'node:path'
import { isWithin } from './root.js'

/**
 * The two checks that keep the git source from publishing anything but git's own data: a name
 * read from a file must be a ref name as git-check-ref-format defines it, and a value must be an
 * object id. Reads are confined to one directory (its real path), so a symlink inside `.git`
 * cannot make the source read a file elsewhere.
 */

/** A SHA-1 (40) or SHA-256 (64) object id, lowercase as git writes it. */
const OBJECT_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/

/** Control characters, space and the characters git-check-ref-format refuses anywhere in a name. */
// eslint-disable-next-line no-control-regex
const REF_FORBIDDEN = /[\x00-\x20\x7f~^:?*[\\]/

export function isObjectId(text: string): boolean {
  return OBJECT_ID.test(text)
}

/**
 * Whether `name` is a full ref name under `refs/` by git-check-ref-format's rules: no `..`,
 * `@{`, `//`, leading or trailing `/`, trailing `.`, control characters, space, `~^:?*[\`; no
 * component that is empty, starts with `.` or ends with `.lock`. Such a name joined to a git
 * directory stays inside it.
 */
export function isRefName(name: string): boolean {
  if (!name.startsWith('refs/') || name.length > 1024) return false
  if (name.endsWith('.') || name.includes('..') || name.includes('@{') || REF_FORBIDDEN.test(name)) return false
  return name.split('/').every((part) => part.length > 0 && !part.startsWith('.') && !part.endsWith('.lock'))
}

/** The target of a symbolic ref (`ref: refs/heads/main`), null when the text is not one. */
export function symbolicTarget(text: string): string | null {
  return /^ref: ?(.*)$/.exec(text)?.[1] ?? null
}

export type Confined =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'missing' }
  | { readonly kind: 'refused'; readonly reason: string }

const MISSING: Confined = { kind: 'missing' }
const refused = (reason: string): Confined => ({ kind: 'refused', reason })

function errorCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? 'unknown error'
}

/**
 * Reads `rel` inside `dir` (a real path), trimmed: refused when its real path leaves `dir`, when
 * it is not a regular file (a FIFO would block) or when it is over `limit` bytes; with `tail`,
 * the last `limit` bytes instead. The reason names the file, never its content.
 */
export async function readConfined(dir: string, rel: string, limit: number, tail = false): Promise<Confined> {
  let real: string
  try {
    real = await realpath(join(dir, rel))
  } catch (err) {
    const code = errorCode(err)
    return code === 'ENOENT' || code === 'ENOTDIR' ? MISSING : refused(`${rel} cannot be resolved (${code})`)
  }
  if (!isWithin(dir, real)) return refused(`${rel} resolves outside the git directory`)
  let file
  try {
    // No following a link swapped in since realpath; no blocking on a FIFO.
    file = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (err) {
    const code = errorCode(err)
    return code === 'ENOENT' ? MISSING : refused(`${rel} cannot be opened (${code})`)
  }
  try {
    const { size, isFile } = await file.stat().then((st) => ({ size: st.size, isFile: st.isFile() }))
    if (!isFile) return refused(`${rel} is not a regular file`)
    if (!tail && size > limit) return refused(`${rel} is larger than ${limit} bytes`)
    const length = Math.min(size, limit)
    const { buffer, bytesRead } = await file.read(Buffer.alloc(length), 0, length, size - length)
    return { kind: 'text', text: buffer.subarray(0, bytesRead).toString('utf8').trim() }
  } finally {
    await file.close()
  }
}
