import { parseArgs, type ParseArgsConfig } from 'node:util'
import { didYouMean, UsageError } from './usage.js'

type Options = NonNullable<ParseArgsConfig['options']>

/** Every command takes --help (-h): main prints the command's usage instead of running it. */
const HELP = { help: { type: 'boolean', short: 'h' } } as const

/** What parseArgs returns for `options` (and --help), positionals allowed. */
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; strict: true; options: O & typeof HELP }>>

/**
 * Parses the arguments of `roomcast <command>`: positionals and `options` plus --help. An option
 * the command does not take is a UsageError naming it and the closest one it does take
 * (`--prot` → `--port`); any other mistake parseArgs finds is one too, prefixed with the command.
 */
export function parseCommand<O extends Options>(command: string, args: string[], options: O): Parsed<O> {
  const config = { args, allowPositionals: true, strict: true, options: { ...options, ...HELP } } as const
  const known = Object.keys(config.options)
  // A lenient pass first: it lists every option as a token, where the strict pass stops at the first unknown one with its own wording.
  for (const token of parseArgs({ ...config, strict: false, tokens: true }).tokens) {
    if (token.kind === 'option' && !known.includes(token.name)) {
      throw new UsageError(`roomcast ${command}: unknown option ${token.rawName}${token.rawName.startsWith('--') ? didYouMean(token.name, known, '--') : ''}`, command)
    }
  }
  try {
    return parseArgs(config)
  } catch (err) {
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') !== true) throw err
    throw new UsageError(`roomcast ${command}: ${(err as Error).message}`, command)
  }
}
