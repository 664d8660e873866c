import { z } from 'zod'

/**
 * What a worker and its primary say over the node:cluster IPC channel (ipc-transport.ts,
 * ipc-hub.ts): a versioned tagged union under one key, so node's own messages and others pass
 * by. Requests carry an id; the primary answers each with `done` (a number, a stream position
 * or page) or `failed`. The primary may ask a worker too (`ask`: its status, its clients), and
 * the worker answers with `reply` or `reply_failed` under the primary's id. Whatever crosses is
 * `safeParse`d; what fails is dropped and counted. Under the key goes one message or an array of
 * them in the order they were sent (ipc-batch.ts: everything one turn produced, in one `send`); each
 * is parsed on its own, so a malformed one costs only itself.
 */
export const IPC_KEY = 'roomcast_ipc'

/** The primary's ask before it answers a subscribe: apply another worker's new channels (ipc-hub.ts, ipc-mesh.ts). */
export const MESH_INTEREST = 'mesh_interest'

const id = z.number().int().nonnegative()
const channel = z.string().min(1)
const HistoryOptionsSchema = z.object({ size: z.number().int().positive(), ttlMs: z.number().positive(), metaTtlMs: z.number().positive() })
/** How many messages the sender had sent each worker directly (by mesh id) before this request (ipc-mesh.ts). */
const directCounts = z.record(z.string(), z.number().int().nonnegative()).optional()
const meshId = z.number().int().nonnegative()
const PublicationSchema = z.looseObject({ id: z.string(), channel: z.string().min(1), event: z.string(), data: z.record(z.string(), z.unknown()), timestamp: z.string() })

/** Worker → primary. */
export const IpcRequestSchema = z.discriminatedUnion('op', [
  z.object({ v: z.literal(1), op: z.literal('publish'), id, channel, bytes: z.string(), d: directCounts }),
  z.object({ v: z.literal(1), op: z.literal('subscribe'), id, channels: z.array(channel) }),
  z.object({ v: z.literal(1), op: z.literal('subscribe_rooms'), id }),
  z.object({ v: z.literal(1), op: z.literal('unsubscribe_rooms'), id }),
  z.object({ v: z.literal(1), op: z.literal('unsubscribe'), id, channel }),
  // A history publication: stored in the primary's one sequence and relayed in the same step.
  z.object({ v: z.literal(1), op: z.literal('append'), id, pub: PublicationSchema, opts: HistoryOptionsSchema, channel, head: z.string(), d: directCounts }),
  z.object({ v: z.literal(1), op: z.literal('read'), id, channel, after: z.number().int().nonnegative().nullable(), opts: HistoryOptionsSchema }),
  // Anything the primary serves besides the cluster (the runner's own requests, e.g. /metrics).
  z.object({ v: z.literal(1), op: z.literal('call'), id, name: z.string().min(1), arg: z.unknown() }),
  // The worker sends room publications to the other workers directly (ipc-mesh.ts): the directory, please.
  z.object({ v: z.literal(1), op: z.literal('mesh_join'), id }),
  // Its mesh socket listens at the path it was given: the others may connect.
  z.object({ v: z.literal(1), op: z.literal('mesh_up'), id }),
  // A worker's answer to the primary's `ask` of the same id.
  z.object({ v: z.literal(1), op: z.literal('reply'), id, value: z.unknown() }),
  z.object({ v: z.literal(1), op: z.literal('reply_failed'), id, error: z.string() }),
])

/** Primary → worker. */
export const IpcAnswerSchema = z.discriminatedUnion('op', [
  // A relayed cluster message; from a worker in the mesh, its mesh id (`f`) and how many it had sent this worker directly before it (`d`).
  z.object({ v: z.literal(1), op: z.literal('message'), bytes: z.string(), f: meshId.optional(), d: z.number().int().nonnegative().optional() }),
  // `to`: for a request of a worker in the mesh that relays (publish, append), the mesh ids it was relayed to.
  z.object({ v: z.literal(1), op: z.literal('done'), id, value: z.unknown(), to: z.array(meshId).optional() }),
  z.object({ v: z.literal(1), op: z.literal('failed'), id, error: z.string(), to: z.array(meshId).optional() }),
  // A change of the mesh's directory (ipc-mesh.ts MeshChange), in the order it happened.
  z.discriminatedUnion('kind', [
    z.object({ v: z.literal(1), op: z.literal('mesh'), kind: z.literal('peer'), mid: meshId, path: z.string().min(1) }),
    z.object({ v: z.literal(1), op: z.literal('mesh'), kind: z.literal('gone'), mid: meshId }),
    z.object({ v: z.literal(1), op: z.literal('mesh'), kind: z.literal('interest'), mid: meshId, add: z.array(channel).optional(), remove: z.array(channel).optional(), every: z.boolean().optional() }),
  ]),
  // The primary asks this worker something the worker answers (its status snapshot, its clients).
  z.object({ v: z.literal(1), op: z.literal('ask'), id, name: z.string().min(1), arg: z.unknown() }),
])

export type IpcRequest = z.output<typeof IpcRequestSchema>
export type IpcAnswer = z.output<typeof IpcAnswerSchema>
/** A worker's own request (not a reply), without the envelope fields the link adds. */
type OwnRequest = Exclude<IpcRequest, { op: 'reply' | 'reply_failed' }>
export type IpcAsk = OwnRequest extends infer R ? (R extends OwnRequest ? Omit<R, 'v' | 'id'> : never) : never

/** Wraps a message, or a batch of them in order, for the IPC channel. */
export function ipcEnvelope(msg: IpcRequest | IpcAnswer | readonly (IpcRequest | IpcAnswer)[]): Record<string, unknown> {
  return { [IPC_KEY]: msg }
}

/** The roomcast messages inside `raw` in order, or undefined when `raw` is not ours (node's, another library's). */
export function ipcPayloads(raw: unknown): readonly unknown[] | undefined {
  if (typeof raw !== 'object' || raw === null || !Object.hasOwn(raw, IPC_KEY)) return undefined
  const payload = (raw as Record<string, unknown>)[IPC_KEY]
  return Array.isArray(payload) ? payload : [payload]
}
