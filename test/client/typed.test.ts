import { describe, expectTypeOf, it } from 'vitest'
import type { RoomcastClient } from '../../src/client/index.js'
import type { WorkflowEventMap, WorkspaceEventMap } from '../../services/exports.js'

describe('typed events from the services\' maps', () => {
  it('on() hands each handler its event\'s payload type', () => {
    type On<M extends Record<string, Record<string, unknown>>> = Parameters<RoomcastClient<M>['on']>
    expectTypeOf<On<WorkflowEventMap>[0]>().toEqualTypeOf<keyof WorkflowEventMap & string>()
    expectTypeOf<WorkflowEventMap['workflow.started']['workflow_id']>().toEqualTypeOf<string>()
    expectTypeOf<WorkspaceEventMap['ai.chunk']['index']>().toEqualTypeOf<number>()
  })
})
