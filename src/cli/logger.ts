import { pino, type Logger } from 'pino'
import { createRequire } from 'node:module'
import type PinoPrettyModule from 'pino-pretty'
import type { Settings } from '../config/settings.js'

/**
 * The logger of `roomcast serve`: readable lines (pino-pretty) when `log_format` is `pretty`, or
 * `auto` with stdout on a terminal; one JSON object per line otherwise, for supervisord and tools.
 */
export function cliLogger(settings: Pick<Settings, 'log_level' | 'log_format'>, stdout: NodeJS.WriteStream = process.stdout): Logger {
  const readable = settings.log_format === 'pretty' || (settings.log_format === 'auto' && stdout.isTTY === true)
  if (!readable) return pino({ level: settings.log_level })
  // sync: a line must be out before a second signal's process.exit.
  // Loaded here, only for readable lines: JSON logs (supervisord, tests) never pay for it.
  const PinoPretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPrettyModule
  const stream = PinoPretty({
    destination: 1,
    sync: true,
    colorize: stdout.isTTY === true,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service',
    messageFormat: '{if service}{service}: {end}{msg}',
  })
  return pino({ level: settings.log_level }, stream)
}
