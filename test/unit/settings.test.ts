import { mkdtempSync, writeFileSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadSettings, parseSettings, SettingsError } from '../../src/index.js'
import { maxWorkers, workerCount } from '../../src/config/settings.js'

const dir = mkdtempSync(join(tmpdir(), 'roomcast-settings-'))
const yaml = (text: string) => {
  const file = join(dir, `s${Math.random().toString(36).slice(2)}.yaml`)
  writeFileSync(file, text)
  return file
}
const problemsOf = (fn: () => unknown): readonly string[] => {
  try {
    fn()
  } catch (err) {
    if (err instanceof SettingsError) return err.problems
    throw err
  }
  throw new Error('expected a SettingsError')
}

describe('settings (zod schema, YAML, environment)', () => {
  it('has a default for everything and freezes the result', () => {
    const s = parseSettings({})
    expect(s).toMatchObject({ host: '127.0.0.1', port: 0, max_connections: 1000, message_rate_limit: 100, max_payload: 1048576, auth: { required: false, secret: null } })
    expect(Object.isFrozen(s)).toBe(true)
    expect(Object.isFrozen(s.auth)).toBe(true)
  })

  it('rejects unknown keys at every level and lists every problem at once', () => {
    const problems = problemsOf(() => parseSettings({ colour: 'blue', port: -1, ping_interval: 0, auth: { requird: true }, redis: { url: 5 } }))
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^colour: unknown key/),
        expect.stringMatching(/^port: /),
        expect.stringMatching(/^ping_interval: /),
        expect.stringMatching(/^auth\.requird: unknown key; did you mean auth\.required\?/),
        expect.stringMatching(/^redis\.url: /),
      ]),
    )
    expect(problems).toHaveLength(5)
  })

  it('allowed_origins takes exact origins or "*", naming each bad entry', () => {
    expect(parseSettings({ allowed_origins: ['https://app.example.com', 'http://127.0.0.1:3848', '*'] }).allowed_origins).toHaveLength(3)
    const problems = problemsOf(() => parseSettings({ allowed_origins: ['https://app.example.com/', 'app.example.com', 'http://localhost:80'] }))
    expect(problems).toEqual([0, 1, 2].map((i) => expect.stringMatching(new RegExp(`^allowed_origins\\.${i}: expected an origin like https://app\\.example\\.com`))))
  })

  it('a missing file means all defaults; a file that is not a mapping is refused', () => {
    expect(loadSettings({ service: 'workflow', file: join(dir, 'absent.yaml'), env: {} }).port).toBe(0)
    expect(problemsOf(() => loadSettings({ service: 'workflow', file: yaml('- a\n- b\n'), env: {} }))).toEqual(['(root): expected a mapping of settings'])
  })

  it("a service's own defaults lie under the file section by section: a key the file leaves out keeps the service's value", () => {
    const defaults = { port: 3849, allow_client_publish: true, delivery: { tracked: ['task.*'] } }
    const load = (text: string) => loadSettings({ service: 'context', defaults, file: yaml(text), env: {} })
    expect(load('delivery:\n  ack_timeout: 2\n')).toMatchObject({ port: 3849, allow_client_publish: true, delivery: { tracked: ['task.*'], ack_timeout: 2 } })
    expect(load('allow_client_publish: false\ndelivery:\n  tracked: []\n')).toMatchObject({ allow_client_publish: false, delivery: { tracked: [] } })
    expect(loadSettings({ service: 'context', defaults, file: join(dir, 'absent.yaml'), env: {} }).delivery.tracked).toEqual(['task.*'])
    // A section that is not a mapping is the file's value, reported as such.
    expect(problemsOf(() => load('delivery: 5\n'))).toEqual([expect.stringMatching(/^delivery: /)])
    // A `__proto__` key in a section stays a key (refused as unknown), never the section's prototype.
    expect(problemsOf(() => load('delivery:\n  __proto__:\n    tracked: [x]\n'))).toEqual([expect.stringMatching(/^delivery: unknown key '__proto__'|^delivery\.__proto__/)])
  })

  it('file ← environment ← overrides, for port and host', () => {
    const file = yaml('port: 9001\nhost: 0.0.0.0\n')
    expect(loadSettings({ service: 'workflow', file, env: {} })).toMatchObject({ port: 9001, host: '0.0.0.0' })
    const env = { ROOMCAST_WORKFLOW_PORT: '9002', ROOMCAST_HOST: '::1' }
    expect(loadSettings({ service: 'workflow', file, env })).toMatchObject({ port: 9002, host: '::1' })
    expect(loadSettings({ service: 'workflow', file, env: { ...env, ROOMCAST_WORKFLOW_HOST: '127.0.0.2' } }).host).toBe('127.0.0.2')
    expect(loadSettings({ service: 'workflow', file, env, overrides: { port: 9003 } }).port).toBe(9003)
    expect(loadSettings({ service: 'session', file, env }).port).toBe(9001)
  })

  it('Redis from REDIS_URL, or REDIS_ADDR + REDIS_PASSWORD + REDIS_DB; REDIS_PUBSUB_PREFIX; REDIS_CLUSTER_NODES or a redis+cluster:// URL; the JWT secret', () => {
    const base = { service: 'tests' }
    expect(loadSettings({ ...base, env: { REDIS_URL: 'redis://r:6379/2' } }).redis.url).toBe('redis://r:6379/2')
    expect(loadSettings({ ...base, env: { REDIS_ADDR: 'r:6380', REDIS_PASSWORD: 'p@ss', REDIS_DB: '3' } }).redis.url).toBe('redis://:p%40ss@r:6380/3')
    expect(loadSettings({ ...base, env: { REDIS_PUBSUB_PREFIX: 'x:' } }).redis).toEqual({ url: null, cluster: null, prefix: 'x:' })
    expect(loadSettings({ ...base, env: { REDIS_CLUSTER_NODES: 'a:7000, b:7001' } }).redis).toMatchObject({ url: null, cluster: ['a:7000', 'b:7001'] })
    expect(loadSettings({ ...base, env: { REDIS_URL: 'redis+cluster://a:7000,b:7001' } }).redis).toMatchObject({ url: null, cluster: ['a:7000', 'b:7001'] })
    expect(() => loadSettings({ ...base, env: { REDIS_CLUSTER_NODES: 'a' } })).toThrow(/redis\.cluster.*host:port/s)
    expect(loadSettings({ ...base, env: { TESTS_JWT_SECRET: 's'.repeat(16) } }).auth.secret).toBe('s'.repeat(16))
  })

  it('workers: 1 by default, N or auto from the file, ROOMCAST_<SERVICE>_WORKERS or ROOMCAST_WORKERS; 0, negative, fractions and more than 4 × the cores refused naming the file and key', () => {
    expect(parseSettings({}).workers).toBe(1)
    expect(workerCount(parseSettings({}))).toBe(1)
    expect(workerCount(parseSettings({ workers: 'auto' }))).toBe(availableParallelism())
    const file = yaml('workers: 2\n')
    expect(loadSettings({ service: 'workflow', file, env: {} }).workers).toBe(2)
    expect(loadSettings({ service: 'workflow', file, env: { ROOMCAST_WORKERS: '3' } }).workers).toBe(3)
    expect(loadSettings({ service: 'workflow', file, env: { ROOMCAST_WORKERS: '3', ROOMCAST_WORKFLOW_WORKERS: 'auto' } }).workers).toBe('auto')
    for (const bad of ['0', '-1', '1.5', String(maxWorkers() + 1), '"two"']) {
      let error: unknown
      try {
        loadSettings({ service: 'workflow', file: yaml(`workers: ${bad}\n`), env: {} })
      } catch (err) {
        error = err
      }
      expect(error, bad).toBeInstanceOf(SettingsError)
      expect((error as SettingsError).message, bad).toMatch(/^Invalid settings \(.*\.yaml\)/)
      expect((error as SettingsError).problems, bad).toEqual([expect.stringMatching(/^workers: .*(auto|whole|integer|at most)/)])
    }
    expect(problemsOf(() => loadSettings({ service: 'workflow', env: { ROOMCAST_WORKFLOW_WORKERS: 'many' } }))).toEqual(['ROOMCAST_WORKFLOW_WORKERS: expected a number of workers or auto, got "many"'])
    expect(problemsOf(() => loadSettings({ service: 'workflow', env: { ROOMCAST_WORKERS: '0' } }))).toEqual([expect.stringMatching(/^workers: /)])
  })

  it('environment and file problems are listed together, naming both sources', () => {
    let error: unknown
    try {
      loadSettings({ service: 'workflow', file: yaml('max_connections: 0\n'), env: { ROOMCAST_WORKFLOW_PORT: 'x', REDIS_ADDR: 'nohost', REDIS_DB: 'two' } })
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(SettingsError)
    const e = error as SettingsError
    expect(e.message).toMatch(/^Invalid settings \(.*\.yaml and environment\)/)
    expect(e.problems).toEqual([
      'ROOMCAST_WORKFLOW_PORT: expected an integer, got "x"',
      'REDIS_ADDR: expected host:port, got "nohost"',
      expect.stringMatching(/^max_connections: /),
    ])
  })

  it('auth.required without a secret is refused when the server is built', async () => {
    const { SERVICES } = await import('../../services/index.js')
    expect(() => SERVICES.workflow!.create(parseSettings({ auth: { required: true }, log_level: 'silent' }))).toThrow(/WORKFLOW_JWT_SECRET/)
  })

  it('public_channels naming a private channel, or no channel of the service, is refused when the server is built', async () => {
    const { SERVICES } = await import('../../services/index.js')
    const build = (name: string, public_channels: string[]) => () => SERVICES[name]!.create(parseSettings({ public_channels, log_level: 'silent' }))
    expect(problemsOf(build('context', ['agents/alice', 'topics/*']))).toEqual([expect.stringMatching(/^public_channels\.0: agents\/alice names the private channel agents\/\{id\}/)])
    expect(problemsOf(build('workflow', ['goal-teams:{user}']))).toEqual([expect.stringMatching(/^public_channels\.0: goal-teams:\{user\} names the private channel/)])
    expect(problemsOf(build('workflow', ['workflows:*']))).toEqual([expect.stringMatching(/^public_channels\.0: workflows:\* matches none of the channels of workflow/)])
    expect(() => build('workflow', ['goal-teams', 'workflow:*', 'global'])().close()).not.toThrow()
  })
})
