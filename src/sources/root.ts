import { constants } from 'node:fs'
import { access, realpath, stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { SettingsError } from '../config/settings.js'

/**
 * Resolves a watch root to its real path, failing at boot with the path named when it does not
 * exist, is not a directory or cannot be read. The real path is what "inside the root" means:
 * a root reached through a symlink still confines the watcher to its target.
 */
export async function resolveRoot(root: string, setting = 'workspace.root'): Promise<string> {
  const abs = resolve(root)
  const problem = (what: string) => new SettingsError(setting, [`${abs}: ${what}`])
  let real: string
  try {
    real = await realpath(abs)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw code === 'ENOENT' ? problem('does not exist') : problem(`cannot be resolved (${code ?? String(err)})`)
  }
  if (!(await stat(real)).isDirectory()) throw problem('is not a directory')
  try {
    await access(real, constants.R_OK | constants.X_OK)
  } catch {
    throw problem('is not readable')
  }
  return real
}

/** Whether `path` (a real path) is `root` or beneath it. */
export function isWithin(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith('/') ? root : `${root}/`)
}
