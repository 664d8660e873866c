import { z } from 'zod'
import type { JsonObject } from '../../src/index.js'
import type { RequestRegistry } from '../../src/server/request-registry.js'

/**
 * Registers a status request keyed by one id parameter (e.g. `get_pool_status {pool_id}`):
 * a missing or empty id is INVALID_PARAMS naming it; an id the projection has not seen
 * answers `{<id field>: id, status: "not_found"}`.
 */
export function registerLookup(
  requests: RequestRegistry,
  op: string,
  idField: string,
  view: (id: string) => JsonObject | undefined,
): void {
  const schema = z.object({ [idField]: z.string().min(1) })
  requests.register(op, schema, (params) => {
    const id = params[idField] as string
    return view(id) ?? { [idField]: id, status: 'not_found' }
  })
}
