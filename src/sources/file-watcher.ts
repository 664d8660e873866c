import { lstat, realpath } from 'node:fs/promises'
import { relative, sep } from 'node:path'
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
    await this.#watcher?.close()
    this.#watcher = null
  }

  #relative(path: string): string {
    const rel = relative(this.#root ?? '', path)
    return sep === '/' ? rel : rel.split(sep).join('/')
  }

  async #onChange(path: string, event: FileChange): Promise<void> {
    if (this.#root === null || !isWithin(this.#root, path)) return
    if (event === 'unlink') {
      if (!this.#hiddenLinks.delete(path)) this.#batcher.push(this.#relative(path), event)
      return
    }
    if (await this.#pointsOutside(path)) {
      if (this.#hiddenLinks.size < (this.#opts.maxHiddenLinks ?? 10_000)) this.#hiddenLinks.add(path)
      return
    }
    this.#batcher.push(this.#relative(path), event)
  }

  /** A symlink whose target is outside the root, or missing: never reported. */
  async #pointsOutside(path: string): Promise<boolean> {
    try {
      if (!(await lstat(path)).isSymbolicLink()) return false
      return !isWithin(this.#root ?? '', await realpath(path))
    } catch {
      // Gone already (a short-lived file) or a dangling link: the unlink that follows tells the rest.
      return true
    }
  }
}
