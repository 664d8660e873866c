import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { createWorkspaceBroadcaster, type WorkspaceEmitter } from '../../services/exports.js'
import { workspaceEvents } from '../../services/workspace/events.js'
import type { Publication } from '../../src/index.js'
import { ROOT } from '../helpers/supervisor.js'

/** A hand-written emitter at the broadcaster's seam: validates like the server does and records. */
function recordingEmitter(): WorkspaceEmitter & { published: Publication[] } {
  const published: Publication[] = []
  return {
    published,
    emit(channel, event, data) {
      const parsed = workspaceEvents[event].safeParse(data)
      if (!parsed.success) throw new Error(`INVALID_EVENT ${event}: ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`)
      const pub = { id: String(published.length), channel, event, data: parsed.data, timestamp: new Date().toISOString() }
      published.push(pub)
      return pub
    },
  }
}

describe('workspace broadcaster', () => {
  it('has exactly the seed emitters, each publishing its event on its channel with the seed field names', () => {
    const target = recordingEmitter()
    const b = createWorkspaceBroadcaster(target)
    expect(Object.keys(b).sort()).toEqual(['aiChunk', 'diagnosticsUpdated', 'fileChanged', 'gitEvent', 'searchProgress', 'validationComplete'])
    b.fileChanged('src/main.ts', 'change')
    b.diagnosticsUpdated([{ file: 'src/main.ts', message: 'unused', severity: 'warning', line: 3 }])
    b.aiChunk('r1', 'Hello', 0, false)
    b.searchProgress('TODO', 2, 10, [{ file: 'a.ts', line: 1 }])
    b.validationComplete({ valid: false, errors: ['x'] })
    b.gitEvent('commit', 'commit: add a', { branch: 'main', commit: 'abc' })
    expect(target.published.map((p) => [p.channel, p.event])).toEqual([
      ['files', 'file.changed'],
      ['diagnostics', 'diagnostics.updated'],
      ['ai-response', 'ai.chunk'],
      ['search', 'search.progress'],
      ['validation', 'validation.complete'],
      ['git', 'git.event'],
    ])
    const [file, diags, chunk, search, validation, git] = target.published.map((p) => p.data)
    expect(file).toEqual({ file: 'src/main.ts', event: 'change', timestamp: expect.any(String) })
    expect(diags).toMatchObject({ diagnostics: [{ file: 'src/main.ts', message: 'unused' }] })
    expect(chunk).toMatchObject({ id: 'r1', chunk: 'Hello', index: 0, finished: false })
    expect(search).toMatchObject({ query: 'TODO', count: 2, total: 10, results: [{ file: 'a.ts', line: 1 }] })
    expect(validation).toMatchObject({ result: { valid: false, errors: ['x'] } })
    expect(git).toMatchObject({ type: 'commit', message: 'commit: add a', branch: 'main', commit: 'abc' })
  })

  it('refuses payloads that fail the schema, naming the field', () => {
    const b = createWorkspaceBroadcaster(recordingEmitter())
    expect(() => b.fileChanged('/etc/passwd', 'change')).toThrow(/file/)
    expect(() => b.fileChanged('../up.txt', 'add')).toThrow(/file/)
    // @ts-expect-error not a file event
    expect(() => b.fileChanged('a.ts', 'rename')).toThrow(/event/)
    expect(() => b.aiChunk('r1', 'x', -1, false)).toThrow(/index/)
    expect(() => b.searchProgress('q', 5, 2, [])).toThrow(/count/)
    // @ts-expect-error valid is required
    expect(() => b.validationComplete({ errors: [] })).toThrow(/result.valid/)
  })

  it('is importable by an embedding application as roomcast/services', () => {
    const script =
      "import { WorkspaceServer, createWorkspaceBroadcaster, workspaceEvents } from 'roomcast/services'; " +
      "import { parseSettings } from 'roomcast'; const s = new WorkspaceServer(parseSettings({ log_level: 'silent' })); " +
      'console.log(typeof createWorkspaceBroadcaster, Object.keys(workspaceEvents).length, Object.keys(s.broadcast).length)'
    expect(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' }).trim()).toBe('function 7 6')
  })
})
