import { EventEmitter } from 'node:events'
import { relative } from 'node:path'
import type { FSWatcher } from 'chokidar'
import { type Logger, pino } from 'pino'
import type { ServerPlugin } from '../server/plugin.js'
import { findGitDirs, type GitDirs, type GitState, lastReflogEntry, readGitState, type ReflogEntry } from './git-state.js'
import { resolveRoot } from './root.js'

/** Where git events go: `branch` (HEAD moved to another branch), `commit`, or the reflog's verb for other moves. */
export interface GitSink {
  gitEvent(type: string, message: string, details: { branch: string | null; commit: string | null }): void
}

export interface GitWatcherOptions {
  /** Work tree whose `.git` is watched; without a repository there the source stays off. */
  readonly root: string
  /** Quiet time in milliseconds before HEAD is read again (a checkout writes several files). */
  readonly debounceMs: number
  readonly logger?: Logger
}

/** The files that say where HEAD is, relative to a git directory; everything else (objects, logs) is ignored. */
function watched(rel: string): boolean {
  return rel === '' || rel === 'HEAD' || rel === 'packed-refs' || rel === 'refs' || rel === 'refs/heads' || rel.startsWith('refs/heads/')
}

/** What changed between two readings of HEAD, as a git event; null when nothing a client cares about did. */
export function describeMove(prev: GitState, next: GitState, reflog: ReflogEntry | null): { type: string; message: string } | null {
  const fromReflog = reflog !== null && reflog.commit === next.commit ? reflog.message : null
  const verb = fromReflog === null ? null : (/^[a-z-]+/.exec(fromReflog)?.[0] ?? null)
  const short = next.commit?.slice(0, 7) ?? 'nothing'
  if (prev.branch !== next.branch || verb === 'checkout' || verb === 'switch') {
    if (prev.branch === next.branch && prev.commit === next.commit) return null
    const fallback = next.branch !== null ? `Switched to branch '${next.branch}'` : `HEAD detached at ${short}`
    return { type: 'branch', message: fromReflog ?? fallback }
  }
  if (prev.commit === next.commit || next.commit === null) return null
  if (verb === null || verb === 'commit') return { type: 'commit', message: fromReflog ?? `Commit ${short} on ${next.branch ?? 'detached HEAD'}` }
  return { type: verb, message: fromReflog ?? '' }
}

/**
 * Watches a repository's HEAD and branch refs and reports a branch switch or a new commit.
 * It reads the files git keeps (HEAD, refs, packed-refs, the HEAD reflog) and never runs git;
 * a repository or a reading that git-state.ts refuses publishes nothing, is logged once and
 * emitted as `refused` (the reason names files, never their content).
 */
export class GitWatcherSource extends EventEmitter implements ServerPlugin {
  readonly name = 'git-watcher'
  readonly #opts: GitWatcherOptions
  readonly #sink: GitSink
  readonly #log: Logger
  #dirs: GitDirs | null = null
  #state: GitState = { branch: null, commit: null }
  #watcher: FSWatcher | null = null
  #timer: NodeJS.Timeout | null = null
  #checking: Promise<void> = Promise.resolve()
  /** The reason last logged, so a refusal that persists across many file events is logged once. */
  #refusal: string | null = null

  constructor(opts: GitWatcherOptions, sink: GitSink) {
    super()
    this.#opts = opts
    this.#sink = sink
    this.#log = (opts.logger ?? pino({ level: 'silent' })).child({ source: this.name })
  }

  /** Whether a repository was found at setup. */
  get active(): boolean {
    return this.#dirs !== null
  }

  async setup(): Promise<void> {
    const found = await findGitDirs(await resolveRoot(this.#opts.root))
    if (found.kind === 'found') this.#dirs = found.dirs
    else if (found.kind === 'none') this.#log.info({ root: this.#opts.root }, 'no git repository at the root: git events off')
    else this.#refuse(found.reason)
  }

  async start(): Promise<void> {
    const dirs = this.#dirs
    if (dirs === null) return
    const first = await readGitState(dirs)
    if (first.ok) this.#state = first.state
    else this.#refuse(first.reason)
    const roots = [...new Set([dirs.gitDir, dirs.commonDir])]
    // chokidar is loaded when a watch starts: only the workspace service needs it.
    const { watch } = await import('chokidar')
    const watcher = watch(roots, {
      ignoreInitial: true,
      ignored: (path: string) => !roots.some((r) => watched(relative(r, path))),
    })
    this.#watcher = watcher
    watcher.on('error', (err) => this.#log.warn({ err }, 'watch error'))
    // Raw events too: git replaces HEAD and refs by renaming a lock file over them, and chokidar's
    // own file events can miss a second replacement soon after the first (seen under load).
    // A reading is three small files, so re-reading on any event in these folders is cheap.
    watcher.on('all', () => this.#schedule())
    watcher.on('raw', () => this.#schedule())
    await new Promise<void>((resolve) => watcher.once('ready', resolve))
    this.#log.info({ gitDir: dirs.gitDir, ...this.#state }, 'watching git')
  }

  async stop(): Promise<void> {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    await this.#watcher?.close()
    this.#watcher = null
    await this.#checking
  }

  #schedule(): void {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      this.#timer = null
      // One reading at a time, so two moves are compared in the order they happened.
      this.#checking = this.#checking.then(() => this.#check()).catch((err: unknown) => this.#log.warn({ err }, 'git check failed'))
    }, this.#opts.debounceMs)
  }

  async #check(): Promise<void> {
    if (this.#dirs === null || this.#watcher === null) return
    const reading = await readGitState(this.#dirs)
    if (!reading.ok) return this.#refuse(reading.reason)
    this.#refusal = null
    const next = reading.state
    const move = describeMove(this.#state, next, await lastReflogEntry(this.#dirs))
    this.#state = next
    if (move !== null) this.#sink.gitEvent(move.type, move.message, { branch: next.branch, commit: next.commit })
  }

  /** Nothing is published and the last good state is kept, so a repaired HEAD reports only a real move. */
  #refuse(reason: string): void {
    if (this.#refusal === reason) return
    this.#refusal = reason
    this.#log.warn({ root: this.#opts.root, reason }, 'git state refused: nothing published')
    this.emit('refused', reason)
  }
}
