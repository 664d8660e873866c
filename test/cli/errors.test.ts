import { describe, expect, it } from 'vitest'
import { PROCESS_TEST_TIMEOUT, runCli, settingsWriter } from '../helpers/cli.js'

const { write: settingsFile } = settingsWriter('roomcast-errors-')

/** Mistakes a person makes on the command line and in a settings file, and what the built CLI answers. */
describe('CLI and settings errors a person can act on (built dist/, real processes)', { timeout: PROCESS_TEST_TIMEOUT }, () => {
  it.concurrent.each([
    ['serve', ['serve', 'workflow', '--prot', '9999'], '--prot', '--port'],
    ['serve', ['serve', 'workspace', '--rot', 'dir'], '--rot', '--root'],
    ['status', ['status', 'workflow', '--timout', '3'], '--timout', '--timeout'],
    ['mcp', ['mcp', 'workflow', '--mcp-prot', '1'], '--mcp-prot', '--mcp-port'],
    ['token', ['token', 'workflow', '--usr', 'bob'], '--usr', '--user'],
    ['token', ['token', 'workflow', '--user', 'bob', '--permisions', 'a'], '--permisions', '--permissions'],
  ])('%s %j: "unknown option %s; did you mean %s?", then the command\'s usage, exit 2', async (command, args, typo, meant) => {
    const r = await runCli(args)
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(new RegExp(`^roomcast ${command}: unknown option ${typo}; did you mean ${meant}\\?\n\nUsage: roomcast ${command} `))
  })

  it('an unknown option with nothing close says so without a guess', async () => {
    const r = await runCli(['serve', 'workflow', '--colour', 'blue'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^roomcast serve: unknown option --colour\n\nUsage: roomcast serve /)
  })

  it.concurrent.each([
    ['an unknown command', ['serv', 'workflow'], /^Unknown command "serv"; did you mean serve\?\n/],
    ['an unknown service', ['serve', 'workflw'], /^Unknown service "workflw"; did you mean workflow\? Services: /],
  ])('%s gets a did-you-mean', async (_what, args, start) => {
    const r = await runCli(args)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(start)
  })

  it.concurrent.each([
    ['serve', ['--port', '--host', '--workers', '--settings', '--root']],
    ['status', ['--port', '--mcp-port', '--host', '--settings', '--timeout']],
    ['mcp', ['--port', '--mcp-port', '--host', '--settings', '--timeout']],
    ['token', ['--user', '--permissions', '--ttl', '--settings', '--secret', '--dialect', '--agent', '--session']],
    ['version', []],
    ['help', []],
  ])('roomcast %s --help, -h and help <command> print its usage and options on stdout, exit 0', async (command, options) => {
    const runs = await Promise.all([runCli([command, '--help']), runCli([command, '-h']), runCli(['help', command])])
    for (const r of runs) {
      expect(r).toMatchObject({ code: 0, stderr: '' })
      expect(r.stdout).toBe(runs[0]!.stdout)
    }
    expect(runs[0]!.stdout).toMatch(new RegExp(`^Usage: roomcast ${command === 'version' ? '--version' : command}`))
    for (const option of options) expect(runs[0]!.stdout).toMatch(new RegExp(`^ {2}${option}\\b`, 'm'))
  })

  it('an unknown settings key names the closest known key', async () => {
    const file = settingsFile('typo.yaml', 'max_conections: 10\nauth:\n  requird: true\n  colour: blue\n')
    const r = await runCli(['serve', 'workflow', '--settings', file])
    expect(r.code).toBe(1)
    expect(r.stderr.split('\n')).toEqual([
      `Invalid settings (${file}):`,
      '  - auth.requird: unknown key; did you mean auth.required?',
      '  - auth.colour: unknown key; auth takes required, secret, timeout, expiry_warning, token_secret',
      '  - max_conections: unknown key; did you mean max_connections?',
      '',
    ])
  })

  it('a YAML syntax error shows the line and a caret under the column', async () => {
    const file = settingsFile('broken.yaml', 'port: 8690\nauth:\n  required: true\n   secret: [a, b\n')
    const r = await runCli(['serve', 'workflow', '--settings', file])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^Invalid settings \(.*\):\n {2}- YAML syntax error at line \d+, column \d+: \S.*\n/)
    const [, line, column] = /at line (\d+), column (\d+)/.exec(r.stderr)!.map(Number)
    const text = 'port: 8690\nauth:\n  required: true\n   secret: [a, b\n'.split('\n')
    const shown = r.stderr.split('\n').slice(2)
    expect(shown).toEqual([`    ${line! - 1} | ${text[line! - 2]}`.trimEnd(), `    ${line} | ${text[line! - 1]}`.trimEnd(), `      | ${' '.repeat(column! - 1)}^`, ''])
  })

  it.concurrent.each([
    ['auth:\n  required: yes\n', "auth.required: expected true or false (YAML `yes` is a string here), got 'yes'"],
    ['allow_client_publish: maybe\n', "allow_client_publish: expected true or false, got 'maybe'"],
    ['port: "8690"\n', "port: expected a number (write it without quotes), got '8690'"],
    ['log_level: inf\n', "log_level: expected one of fatal, error, warn, info, debug, trace, silent, got 'inf'; did you mean info?"],
    ['mcp: off\n', "mcp: expected a mapping (`key: value` lines), got 'off'"],
  ])('a value of the wrong type says what to write: %j', async (yaml, problem) => {
    const file = settingsFile(`type-${yaml.length}-${yaml.charCodeAt(0)}.yaml`, yaml)
    const r = await runCli(['serve', 'workflow', '--settings', file])
    expect(r.code).toBe(1)
    expect(r.stderr).toBe(`Invalid settings (${file}):\n  - ${problem}\n`)
  })
})
