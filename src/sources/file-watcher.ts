import type { Stats } from 'node:fs'
import { lstat, realpath } from 'node:fs/promises'
import { dirname, relative, sep } from 'node:path'
import type { FSWatcher } from 'chokidar'
import { type Logger, pino } from 'pino'
import type { ServerPlugin } from '../server/plugin.js'
import { ChangeBatcher, type ChangeSink, type FileChange } from './change-batcher.js'
import { compileIgnore } from './ignore.js'
import { isWithin, resolveRoot } from './root.js'

export interface FileWatcherOptions {
  /** Directory to watch; must exist and be readable when the server boots. */
  readonly root: string
  /** Patterns ignored beside `.git` and `node_modules` (see compileIgnore). */
  readonly ignore?: readonly string[]
  /** Coalescing window in milliseconds. */
  readonly debounceMs: number
  /** Distinct paths one window reports one by one; the rest become one overflow count. */
  readonly maxPending: number
  /** Links to outside the root that are remembered so their later changes stay silent too. */
  readonly maxHiddenLinks?: number
  readonly logger?: Logger
}

/**
 * chokidar drops (never defers) a `change` within 50 ms of the last one it reported for a path,
 * and any fs event within 5 ms of the one before: a file written twice in quick succession was
 * announced once, before its last write, and a subscriber that read it then kept stale content.
 * So each path reported is looked at again this long after (past chokidar's 50 ms), and a
 * difference becomes one more `change`.
 */
const RECHECK_MS = 60
/** Paths waiting for their second look; beyond this, a path is reported without one. */
const MAX_RECHECKS = 10_000

/** What a second look compares: a write moves the modification or change time, or the size. */
function sameFile(a: Stats, b: Stats): boolean {
  return a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.size === b.size && a.ino === b.ino
}

/**
 * Watches a directory tree and reports file changes (add/change/unlink, paths relative to the
 * root, `/`-separated) to a sink, coalesced per window and bounded. Symlinks are never followed;
 * a link whose target lies outside the root (or nowhere) is not reported at all.
 * Plugs into a server like any ServerPlugin: setup checks the root, start watches, stop closes.
 */
export class FileWatcherSource implements ServerPlugin {
  readonly name = 'file-watcher'
  readonly #opts: FileWatcherOptions
  readonly #log: Logger
  readonly #batcher: ChangeBatcher
  readonly #hiddenLinks = new Set<string>()
  /** Paths reported, in the order reported, with what they looked like then and when. */
  readonly #recheck = new Map<string, { stats: Stats; at: number }>()
  /** Paths whose report is being prepared (its lstat in flight), with how many: a second look skips them. */
  readonly #reporting = new Map<string, number>()
  #recheckTimer: NodeJS.Timeout | null = null
  /** Resolved at the end of each second look (settled() waits on them). */
  readonly #looked: (() => void)[] = []
  /** Second looks under way (a timer can start one while another still awaits its lstats). */
  #looking = 0
  #root: string | null = null
  #watcher: FSWatcher | null = null

  constructor(opts: FileWatcherOptions, sink: ChangeSink) {
    this.#opts = opts
    this.#log = (opts.logger ?? pino({ level: 'silent' })).child({ source: this.name })
    this.#batcher = new ChangeBatcher(
      {
        windowMs: opts.debounceMs,
        maxPending: opts.maxPending,
        onError: (err) => this.#log.warn({ err }, 'file event refused'),
      },
      sink,
    )
  }

  /** The real path being watched (after setup). */
  get root(): string | null {
    return this.#root
  }

  /** Closes the open window now; resolves once every change seen so far reached the sink. */
  flush(): Promise<void> {
    return this.#batcher.flush()
  }

  /**
   * Resolves once every file reported so far had its second look (and those it reported again
   * theirs), and what they found reached the sink. A file that keeps changing keeps it waiting.
   */
  async settled(): Promise<void> {
    while (this.#recheck.size > 0 || this.#looking > 0) await new Promise<void>((resolve) => this.#looked.push(resolve))
    await this.flush()
  }

  async setup(): Promise<void> {
    this.#root = await resolveRoot(this.#opts.root)
  }

  /** Starts watching; resolves once the initial scan is done (changes before it are not reported). */
  async start(): Promise<void> {
    const root = this.#root ?? (await resolveRoot(this.#opts.root))
    this.#root = root
    const ignored = compileIgnore(this.#opts.ignore ?? [])
    // chokidar is loaded when a watch starts: only the workspace service needs it.
    const { watch } = await import('chokidar')
    const watcher = watch(root, {
      ignoreInitial: true,
      followSymlinks: false,
      ignored: (path: string) => ignored(this.#relative(path)),
    })
    this.#watcher = watcher
    watcher.on('error', (err) => this.#log.warn({ err }, 'watch error'))
    for (const event of ['add', 'change', 'unlink'] as const) {
      watcher.on(event, (path: string) => {
        this.#onChange(path, event).catch((err: unknown) => this.#log.warn({ err, path }, 'file event failed'))
      })
    }
    await new Promise<void>((resolve) => watcher.once('ready', resolve))
    this.#log.info({ root }, 'watching')
  }

  async stop(): Promise<void> {
    this.#batcher.stop()
    if (this.#recheckTimer !== null) clearTimeout(this.#recheckTimer)
    this.#recheckTimer = null
    this.#recheck.clear()
    await this.#watcher?.close()
    this.#watcher = null
  }

  #relative(path: string): string {
    const rel = relative(this.#root ?? '', path)
    return sep === '/' ? rel : rel.split(sep).join('/')
  }

  async #onChange(path: string, event: FileChange): Promise<void> {
    if (this.#root === null || !isWithin(this.#root, path)) return
    this.#recheck.delete(path)
    if (event === 'unlink') {
      if (!this.#hiddenLinks.delete(path)) this.#batcher.push(this.#relative(path), event)
      return
    }
    this.#reporting.set(path, (this.#reporting.get(path) ?? 0) + 1)
    try {
      const stats = await this.#inside(path)
      if (stats === null) {
        if (this.#hiddenLinks.size < (this.#opts.maxHiddenLinks ?? 10_000)) this.#hiddenLinks.add(path)
        return
      }
      // Looked at after chokidar's report: a write before this look is covered by this report.
      this.#remember(path, stats)
      this.#batcher.push(this.#relative(path), event)
    } finally {
      const left = this.#reporting.get(path)! - 1
      if (left === 0) this.#reporting.delete(path)
      else this.#reporting.set(path, left)
    }
  }

  #remember(path: string, stats: Stats): void {
    if (this.#watcher === null || this.#recheck.size >= MAX_RECHECKS) return
    this.#recheck.delete(path)
    this.#recheck.set(path, { stats, at: Date.now() })
    this.#recheckTimer ??= setTimeout(() => void this.#secondLook(), RECHECK_MS)
  }

  /** Looks again at every path reported at least RECHECK_MS ago; a file that changed since is reported. */
  async #secondLook(): Promise<void> {
    this.#recheckTimer = null
    this.#looking++
    const due: [string, Stats][] = []
    const now = Date.now()
    for (const [path, { stats, at }] of this.#recheck) {
      if (now - at < RECHECK_MS) break
      this.#recheck.delete(path)
      due.push([path, stats])
    }
    await Promise.all(due.map(([path, before]) => this.#lookAgain(path, before)))
    this.#looking--
    const next = this.#recheck.values().next()
    if (!next.done && this.#recheckTimer === null) {
      this.#recheckTimer = setTimeout(() => void this.#secondLook(), Math.max(1, next.value.at + RECHECK_MS - Date.now()))
    }
    for (const resolve of this.#looked.splice(0)) resolve()
  }

  async #lookAgain(path: string, before: Stats): Promise<void> {
    // Gone (chokidar reports the unlink), or no longer a file inside the root: a link to outside
    // put in its place, or a directory on its way swapped for one. Its lstat would describe the
    // file outside, and a 'change' tell when that one changes.
    const stats = await this.#inside(path)
    if (stats === null) return
    // Reported again meanwhile: that report, and its own second look, cover this one.
    if (this.#watcher === null || this.#recheck.has(path) || this.#reporting.has(path)) return
    if (sameFile(before, stats)) return
    this.#remember(path, stats)
    this.#batcher.push(this.#relative(path), 'change')
  }

  /**
   * The file's lstat, or null (never reported) for a symlink whose target is outside the root, a
   * path missing, or one through a symlinked directory: chokidar reports none (it follows no link),
   * so a directory on the way was swapped for a link since, and lstat, which follows every name
   * but the last, would describe a file beyond it, maybe outside the root.
   */
  async #inside(path: string): Promise<Stats | null> {
    try {
      const stats = await lstat(path)
      if (stats.isSymbolicLink()) return isWithin(this.#root ?? '', await realpath(path)) ? stats : null
      const dir = dirname(path)
      return (await realpath(dir)) === dir ? stats : null
    } catch {
      // Gone already (a short-lived file) or a dangling link: the unlink that follows tells the rest.
      return null
    }
  }
}
