import { realpath, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { type Confined, isObjectId, isRefName, readConfined, symbolicTarget } from './git-files.js'

/** Where a repository keeps HEAD (gitDir) and its refs (commonDir; differs in a linked worktree); both real paths. */
export interface GitDirs {
  readonly gitDir: string
  readonly commonDir: string
}

/** What HEAD points at: a branch (null when detached) and a commit (null on an unborn branch). */
export interface GitState {
  readonly branch: string | null
  readonly commit: string | null
}

/** The repository of a work tree: found, none there, or refused (the reason names files, never their content). */
export type GitFound = { readonly kind: 'found'; readonly dirs: GitDirs } | { readonly kind: 'none' } | { readonly kind: 'refused'; readonly reason: string }

/** A reading of HEAD, or why it was refused (nothing of it may be published). */
export type GitReading = { readonly ok: true; readonly state: GitState } | { readonly ok: false; readonly reason: string }

/** The newest reflog entry of HEAD. */
export interface ReflogEntry {
  readonly commit: string
  readonly message: string
}

/** Bytes read from the end of the reflog: enough for one entry with a long subject. */
const REFLOG_TAIL = 8192
/** HEAD, a loose ref, `.git`, `commondir` and `gitdir` hold one line. */
const SMALL_FILE = 4096
/** packed-refs of a very large repository still fits. */
const PACKED_REFS_LIMIT = 64 * 1024 * 1024
/** Symbolic refs followed from HEAD before giving up, as git does. */
const MAX_SYMREF_DEPTH = 5

const refusedDir = (reason: string): GitFound => ({ kind: 'refused', reason })
const refusedReading = (reason: string): GitReading => ({ ok: false, reason })

async function isKind(path: string, kind: 'file' | 'dir'): Promise<boolean> {
  try {
    const st = await stat(path)
    return kind === 'file' ? st.isFile() : st.isDirectory()
  } catch {
    return false
  }
}

async function realOrNull(path: string): Promise<string | null> {
  return realpath(path).catch(() => null)
}

/** A repository proper: HEAD, objects/ and refs/. */
async function isRepository(dir: string): Promise<boolean> {
  return (await isKind(join(dir, 'HEAD'), 'file')) && (await isKind(join(dir, 'objects'), 'dir')) && (await isKind(join(dir, 'refs'), 'dir'))
}

/**
 * Checks the git directory a work tree's `.git` leads to. A repository (HEAD, objects/, refs/)
 * is followed; so is a linked worktree's entry (HEAD and `commondir`) when its `gitdir` file
 * names this work tree's `.git` back and its common directory is a repository.
 */
async function checkGitDir(gitDir: string, dotGit: string): Promise<GitFound> {
  if (!(await isKind(join(gitDir, 'HEAD'), 'file'))) return refusedDir('.git leads to a directory without HEAD')
  const common = await readConfined(gitDir, 'commondir', SMALL_FILE)
  if (common.kind === 'refused') return common
  if (common.kind === 'missing') {
    return (await isRepository(gitDir)) ? { kind: 'found', dirs: { gitDir, commonDir: gitDir } } : refusedDir('.git leads to a directory without objects/ and refs/')
  }
  const back = await readConfined(gitDir, 'gitdir', SMALL_FILE)
  const owner = back.kind === 'text' ? await realOrNull(resolve(gitDir, back.text)) : null
  if (owner === null || owner !== (await realOrNull(dotGit))) return refusedDir('.git leads to a worktree entry of another work tree')
  const commonDir = await realOrNull(resolve(gitDir, common.text))
  if (commonDir === null || !(await isRepository(commonDir))) return refusedDir('the commondir of the worktree entry is not a repository')
  return { kind: 'found', dirs: { gitDir, commonDir } }
}

/** Finds the repository of a work tree (a real path): `.git` as a directory, or a `.git` file with `gitdir:`. */
export async function findGitDirs(root: string): Promise<GitFound> {
  const dotGit = join(root, '.git')
  let real: string
  try {
    real = await realpath(dotGit)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? { kind: 'none' } : refusedDir('.git cannot be resolved')
  }
  if (await isKind(real, 'dir')) return checkGitDir(real, dotGit)
  const file = await readConfined(root, '.git', SMALL_FILE)
  if (file.kind !== 'text') return file.kind === 'missing' ? { kind: 'none' } : file
  const pointer = /^gitdir: ?(.+)$/.exec(file.text.split('\n')[0] ?? '')?.[1]
  if (pointer === undefined) return refusedDir('.git is a file without a gitdir: line')
  const gitDir = await realOrNull(resolve(root, pointer.trim()))
  if (gitDir === null || !(await isKind(gitDir, 'dir'))) return refusedDir('the gitdir: of .git is not a directory')
  return checkGitDir(gitDir, dotGit)
}

type Resolved = { readonly kind: 'commit'; readonly commit: string | null } | Extract<Confined, { kind: 'refused' }>

/** The object id a ref (already checked to be a ref name) points at: loose, through symbolic refs, or packed. */
async function resolveRef(dirs: GitDirs, ref: string, depth = 0): Promise<Resolved> {
  const loose = await readConfined(dirs.commonDir, ref, SMALL_FILE)
  if (loose.kind === 'refused') return loose
  if (loose.kind === 'text' && loose.text.length > 0) {
    if (isObjectId(loose.text)) return { kind: 'commit', commit: loose.text }
    const target = symbolicTarget(loose.text)
    if (target !== null && isRefName(target) && depth < MAX_SYMREF_DEPTH) return resolveRef(dirs, target, depth + 1)
    return { kind: 'refused', reason: `${ref} holds neither an object id nor a ref name` }
  }
  const packed = await readConfined(dirs.commonDir, 'packed-refs', PACKED_REFS_LIMIT)
  if (packed.kind === 'refused') return packed
  if (packed.kind === 'missing') return { kind: 'commit', commit: null }
  for (const line of packed.text.split('\n')) {
    const space = line.indexOf(' ')
    if (line.slice(space + 1).trimEnd() !== ref) continue
    const sha = line.slice(0, space)
    return isObjectId(sha) ? { kind: 'commit', commit: sha } : { kind: 'refused', reason: `packed-refs holds no object id for ${ref}` }
  }
  return { kind: 'commit', commit: null }
}

/**
 * Reads HEAD and the commit it resolves to, from the files git itself keeps (no git process).
 * HEAD must hold an object id or `ref: ` and a ref name under refs/; a ref must resolve to an
 * object id inside the git directory. Anything else is refused, and nothing of it is returned.
 */
export async function readGitState(dirs: GitDirs): Promise<GitReading> {
  const head = await readConfined(dirs.gitDir, 'HEAD', SMALL_FILE)
  if (head.kind === 'refused') return refusedReading(head.reason)
  if (head.kind === 'missing') return refusedReading('HEAD is missing')
  if (isObjectId(head.text)) return { ok: true, state: { branch: null, commit: head.text } }
  const ref = symbolicTarget(head.text)
  if (ref === null || !isRefName(ref)) return refusedReading('HEAD holds neither an object id nor a ref name under refs/')
  const resolved = await resolveRef(dirs, ref)
  if (resolved.kind === 'refused') return refusedReading(resolved.reason)
  return { ok: true, state: { branch: ref.replace(/^refs\/heads\//, ''), commit: resolved.commit } }
}

/** The newest entry of `logs/HEAD` (`<old> <new> <who> <when>\t<message>`), null without a valid one. */
export async function lastReflogEntry(dirs: GitDirs): Promise<ReflogEntry | null> {
  const log = await readConfined(dirs.gitDir, join('logs', 'HEAD'), REFLOG_TAIL, true)
  if (log.kind !== 'text') return null
  const last = /^(\S+) (\S+) [^\t\n]*\t(.*)$/.exec(log.text.split('\n').pop() ?? '')
  if (last === null || !isObjectId(last[1] ?? '') || !isObjectId(last[2] ?? '')) return null
  return { commit: last[2] ?? '', message: last[3] ?? '' }
}
