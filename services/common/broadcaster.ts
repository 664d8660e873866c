import type { z } from 'zod'
import type { EventSchemas, Publication, WebSocketServer } from '../../src/index.js'

/** `workflow.stage_completed` → `workflowStageCompleted`, at the type level. */
export type MethodName<S extends string> = S extends `${infer H}.${infer T}`
  ? `${MethodName<H>}${Capitalize<MethodName<T>>}`
  : S extends `${infer H}_${infer T}`
    ? `${H}${Capitalize<MethodName<T>>}`
    : S

/** For each event of a service, the channel it goes to by default, read from its payload. */
export type EventRoutes<E extends EventSchemas> = { readonly [K in keyof E]: (data: z.input<E[K]>) => string }

/** One type-checked method per declared event; `channel` overrides the event's default route. */
export type Broadcaster<E extends EventSchemas> = {
  readonly [K in keyof E & string as MethodName<K>]: (data: z.input<E[K]>, channel?: string) => Publication
}

/** The runtime twin of MethodName. */
export function methodName(event: string): string {
  return event.replace(/[._]([a-z0-9])/g, (_, c: string) => c.toUpperCase())
}

/**
 * Derives a service's typed broadcaster from its schema map: `broadcast.workflowStarted({workflow_id})`
 * publishes `workflow.started` on `workflow:<id>`, validated like every other publish.
 */
export function createBroadcaster<E extends EventSchemas>(server: WebSocketServer<E>, routes: EventRoutes<E>): Broadcaster<E> {
  const methods: Record<string, (data: never, channel?: string) => Publication> = {}
  for (const event of Object.keys(server.spec.events) as (keyof E & string)[]) {
    const route = routes[event]
    methods[methodName(event)] = (data: z.input<E[typeof event]>, channel?: string) =>
      server.emit(channel ?? route(data), event, data)
  }
  return Object.freeze(methods) as unknown as Broadcaster<E>
}
