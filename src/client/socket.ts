/** The part of the WebSocket API the client uses: the browser's, Node 22's global, or `ws`'s. */
export interface SocketLike {
  readonly readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  onopen: ((ev: unknown) => void) | null
  onmessage: ((ev: { data: unknown }) => void) | null
  onclose: ((ev: { code: number; reason: string }) => void) | null
  onerror: ((ev: unknown) => void) | null
}

export type SocketFactory = (url: string) => SocketLike

type SocketCtor = new (url: string) => SocketLike

/**
 * The global `WebSocket` when there is one (browsers, Node ≥ 22), else the `ws` package (Node 20).
 * `ws` is imported by a computed name so browser bundles never pull it in.
 */
export async function defaultSocketFactory(): Promise<SocketFactory> {
  const global = (globalThis as { WebSocket?: SocketCtor }).WebSocket
  if (global !== undefined) return (url) => new global(url)
  const name = 'ws'
  const mod = (await import(/* @vite-ignore */ name)) as { default: SocketCtor }
  return (url) => new mod.default(url)
}

/** WebSocket readyState OPEN. */
export const OPEN = 1
