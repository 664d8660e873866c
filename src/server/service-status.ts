import type { ServerView } from './server-view.js'
import { mergeClients, mergeSnapshots } from './status-merge.js'
import type { JsonObject } from '../protocol/messages.js'
import { type ClientsSnapshot, clientsSnapshot, snapshot, type StatusSnapshot, statusView } from './status-model.js'

/**
 * The status of the whole service, whichever process answers: the server's own snapshot with
 * one process (`workers: 1`: no extra hop), every worker's merged with `workers: N` (the primary
 * asks each worker, status-merge.ts merges). What every view reads: /health, /stats, /ws/info,
 * get_status, the MCP tools and, through them, `roomcast status` and the dashboard.
 */

/** Names of what the primary asks each worker (the worker answers with its own snapshot). */
const STATUS = 'status'
const CLIENTS = 'clients'

/** Lets the primary ask this server, as one worker, for its own snapshot and clients. */
export function answerForWorker(server: ServerView): void {
  server.workers?.answer(STATUS, () => snapshot(server))
  server.workers?.answer(CLIENTS, () => clientsSnapshot(server))
}

/** The whole service's snapshot; with workers, this worker's own when the primary cannot be asked (logged). */
export async function serviceSnapshot(server: ServerView): Promise<StatusSnapshot> {
  const own = snapshot(server)
  const group = server.workers
  if (group === null) return own
  try {
    return mergeSnapshots(own, group.self, await group.gather(STATUS))
  } catch (err) {
    server.log.warn({ err }, 'status: the other workers could not be asked; answering for this worker alone')
    return own
  }
}

/** Every client of the service. */
export async function serviceClients(server: ServerView): Promise<ClientsSnapshot> {
  const own = clientsSnapshot(server)
  const group = server.workers
  if (group === null) return own
  try {
    return mergeClients(own, group.self, await group.gather(CLIENTS))
  } catch (err) {
    server.log.warn({ err }, 'clients: the other workers could not be asked; answering for this worker alone')
    return own
  }
}

/**
 * The get_status answer for the whole service: synchronous with one process, so a pipelined
 * get_status is answered in its place among the other requests (answers of async handlers,
 * such as this one with workers, may overtake it).
 */
export function serviceStatus(server: ServerView): JsonObject | Promise<JsonObject> {
  if (server.workers === null) return statusView(snapshot(server))
  return serviceSnapshot(server).then(statusView)
}
