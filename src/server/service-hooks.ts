import type { Logger } from 'pino'
import type { Publication } from '../protocol/messages.js'
import type { Connection } from './connection.js'

/**
 * What a service does differently from the core, as one closed list the core's modules call at
 * fixed points (fastify's hooks, not overrides). Every hook is optional; docs/architecture.md
 * has the table of when each is called and which services use it.
 */
export interface ServiceHooks {
  /**
   * Every publication this instance delivers (local or from the broker): keep projections here.
   * Declaring it makes the instance hear every room of the cluster, not only its local ones.
   */
  readonly onPublication?: (pub: Publication) => void
  /** Rooms whose members also receive a publication besides its own channel; each connection gets it once. */
  readonly alsoDeliverTo?: (pub: Publication) => readonly string[]
  /**
   * A publication offered here (socket, HTTP, MCP, emit) passed the channel, event, schema and
   * permission checks, before the broker takes it: throw an AppError to refuse it. The function
   * it returns, if any, runs when the broker refuses the publication after all.
   */
  readonly admitPublication?: (pub: Publication) => (() => void) | void
  /** A connection got a verified identity; the dialect's identity channels are joined already. */
  readonly onIdentify?: (conn: Connection) => void
  /**
   * A connection joined a room it did not hold (subscribe request, auto-subscribe, identity
   * channel). A promise it returns holds the subscribe request's answer until it settles (at most
   * HOOK_WAIT_MS): what the service records of the change is in place before the client hears of it.
   */
  readonly onSubscribe?: (conn: Connection, channel: string) => void | Promise<void>
  /** A connection left a room by an unsubscribe request (a close leaves every room without it); a promise it returns holds the answer, as onSubscribe's. */
  readonly onUnsubscribe?: (conn: Connection, channel: string) => void | Promise<void>
  /** A connection closed and left its rooms. */
  readonly onDisconnect?: (conn: Connection) => void
  /**
   * A channel got its first subscriber anywhere in the cluster. Called once per cluster, on the
   * presence leader (the live instance with the smallest id), after the change reached it.
   */
  readonly onOccupied?: (channel: string) => void
  /** A channel lost its last subscriber anywhere in the cluster (once per cluster, like onOccupied). */
  readonly onVacated?: (channel: string) => void
}

/** The hooks as the core calls them: every one present (a no-op when the service has none); a side-effect hook that throws is logged, never the caller's failure. */
export interface CoreHooks extends Required<Omit<ServiceHooks, 'onPublication' | 'onSubscribe' | 'onUnsubscribe'>> {
  /** Whether the service keeps state from every publication (then its instance hears every room). */
  readonly observesAll: boolean
  readonly onPublication: (pub: Publication) => void
  /** What the request's answer waits for: settles when the hook's promise does or after HOOK_WAIT_MS, never rejects; null when there is nothing to wait for. */
  readonly onSubscribe: (conn: Connection, channel: string) => Promise<void> | null
  readonly onUnsubscribe: (conn: Connection, channel: string) => Promise<void> | null
}

/**
 * How long a subscribe or unsubscribe answer waits for the service's hook (like the broker's
 * subscribe wait, 1 s): a store that is away delays the answer by this much, never fails it.
 */
export const HOOK_WAIT_MS = 1000

const none = (): readonly string[] => []
const nothing = (): void => {}

export function coreHooks(hooks: ServiceHooks = {}, log: Logger): CoreHooks {
  const logged =
    <A extends unknown[]>(name: string, fn: ((...args: A) => void) | undefined) =>
    (...args: A): void => {
      if (fn === undefined) return
      try {
        fn(...args)
      } catch (err) {
        log.error({ err, hook: name }, 'service hook failed')
      }
    }
  // The requests waiting on one hook promise (requests share one when a store coalesces its writes):
  // one reaction on it, whatever their number, and a request that gave up leaves the set. A promise
  // that never settles (a hung Redis) then keeps no request's wait alive.
  const waiters = new WeakMap<Promise<void>, Set<() => void>>()
  const waitersOf = (name: string, pending: Promise<void>): Set<() => void> => {
    let waiting = waiters.get(pending)
    if (waiting === undefined) {
      const set = (waiting = new Set())
      waiters.set(pending, set)
      pending
        .catch((err: unknown) => log.error({ err, hook: name }, 'service hook failed'))
        .finally(() => {
          for (const done of set) done()
        })
    }
    return waiting
  }
  const waited =
    (name: string, fn: ((conn: Connection, channel: string) => void | Promise<void>) | undefined) =>
    (conn: Connection, channel: string): Promise<void> | null => {
      if (fn === undefined) return null
      let pending: void | Promise<void>
      try {
        pending = fn(conn, channel)
      } catch (err) {
        log.error({ err, hook: name }, 'service hook failed')
        return null
      }
      if (pending === undefined) return null
      const waiting = waitersOf(name, pending)
      return new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer)
          waiting.delete(done)
          resolve()
        }
        const timer = setTimeout(done, HOOK_WAIT_MS)
        timer.unref()
        waiting.add(done)
      })
    }
  return {
    observesAll: hooks.onPublication !== undefined,
    onPublication: logged('onPublication', hooks.onPublication),
    alsoDeliverTo: hooks.alsoDeliverTo ?? none,
    admitPublication: hooks.admitPublication ?? nothing,
    onIdentify: logged('onIdentify', hooks.onIdentify),
    onSubscribe: waited('onSubscribe', hooks.onSubscribe),
    onUnsubscribe: waited('onUnsubscribe', hooks.onUnsubscribe),
    onDisconnect: logged('onDisconnect', hooks.onDisconnect),
    onOccupied: logged('onOccupied', hooks.onOccupied),
    onVacated: logged('onVacated', hooks.onVacated),
  }
}
