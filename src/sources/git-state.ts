import { open, readFile, stat } from 'node:fs/promises'
import { isAbsolute, join, resolve } from 'node:path'

/** Where a repository keeps HEAD (gitDir) and its refs (commonDir; differs in a linked worktree). */
export interface GitDirs {
  readonly gitDir: string
  readonly commonDir: string
}

/** What HEAD points at: a branch (null when detached) and a commit (null on an unborn branch). */
export interface GitState {
  readonly branch: string | null
  readonly commit: string | null
}

/** The newest reflog entry of HEAD. */
export interface ReflogEntry {
  readonly commit: string
  readonly message: string
}

/** Bytes read from the end of the reflog: enough for one entry with a long subject. */
const REFLOG_TAIL = 8192

async function readText(path: string): Promise<string | null> {
  try {
    return (await readFile(path, 'utf8')).trim()
  } catch {
    return null
  }
}

/** Finds the repository of a work tree: `.git` as a directory, or a `.git` file naming it; null when none. */
export async function findGitDirs(root: string): Promise<GitDirs | null> {
  const dotGit = join(root, '.git')
  let gitDir: string
  try {
    if ((await stat(dotGit)).isDirectory()) gitDir = dotGit
    else {
      const pointer = /^gitdir:\s*(.+)$/m.exec((await readText(dotGit)) ?? '')?.[1]
      if (pointer === undefined) return null
      gitDir = isAbsolute(pointer) ? pointer : resolve(root, pointer)
    }
  } catch {
    return null
  }
  const common = await readText(join(gitDir, 'commondir'))
  return { gitDir, commonDir: common === null ? gitDir : resolve(gitDir, common) }
}

async function resolveRef(dirs: GitDirs, ref: string): Promise<string | null> {
  const loose = await readText(join(dirs.commonDir, ref))
  if (loose !== null && loose.length > 0) return loose
  const packed = (await readText(join(dirs.commonDir, 'packed-refs'))) ?? ''
  for (const line of packed.split('\n')) {
    const [sha, name] = line.split(' ')
    if (name === ref && sha !== undefined) return sha
  }
  return null
}

/** Reads HEAD and the commit it resolves to, from the files git itself keeps (no git process). */
export async function readGitState(dirs: GitDirs): Promise<GitState> {
  const head = (await readText(join(dirs.gitDir, 'HEAD'))) ?? ''
  if (!head.startsWith('ref:')) return { branch: null, commit: head.length > 0 ? head : null }
  const ref = head.slice(4).trim()
  return { branch: ref.replace(/^refs\/heads\//, ''), commit: await resolveRef(dirs, ref) }
}

/** The newest entry of `logs/HEAD` (`<old> <new> <who> <when>\t<message>`), null without a reflog. */
export async function lastReflogEntry(dirs: GitDirs): Promise<ReflogEntry | null> {
  let file
  try {
    file = await open(join(dirs.gitDir, 'logs', 'HEAD'), 'r')
  } catch {
    return null
  }
  try {
    const { size } = await file.stat()
    const length = Math.min(size, REFLOG_TAIL)
    const { buffer } = await file.read(Buffer.alloc(length), 0, length, size - length)
    const last = buffer.toString('utf8').trimEnd().split('\n').pop() ?? ''
    const tab = last.indexOf('\t')
    const commit = last.split(' ')[1]
    if (tab === -1 || commit === undefined) return null
    return { commit, message: last.slice(tab + 1) }
  } finally {
    await file.close()
  }
}
