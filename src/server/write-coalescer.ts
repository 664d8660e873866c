import type { Socket } from 'node:net'

/**
 * Coalesces writes per event-loop turn: a socket is corked on its first write in a turn and
 * every corked socket is uncorked on process.nextTick, so several broadcasts in one turn leave
 * in one write (syscall) per socket instead of one each.
 */
const corked: Socket[] = []
let scheduled = false

function flush(): void {
  scheduled = false
  // Swap out first: an uncork can run callbacks that write (and cork) again.
  const list = corked.splice(0, corked.length)
  for (const s of list) {
    ;(s as Socket & { roomcastCorked?: boolean }).roomcastCorked = false
    if (!s.destroyed) s.uncork()
  }
}

/** Corks `socket` until the end of the current turn (idempotent within a turn). */
export function corkForTurn(socket: Socket): void {
  const s = socket as Socket & { roomcastCorked?: boolean }
  if (s.roomcastCorked === true || s.destroyed) return
  s.roomcastCorked = true
  s.cork()
  corked.push(s)
  if (!scheduled) {
    scheduled = true
    process.nextTick(flush)
  }
}

/**
 * Hands what `socket` holds corked this turn to the kernel now. Used before judging a client
 * slow: bytes held by our own cork say nothing about how fast the client reads.
 */
export function flushNow(socket: Socket): void {
  const s = socket as Socket & { roomcastCorked?: boolean }
  if (s.roomcastCorked !== true || s.destroyed) return
  s.roomcastCorked = false
  s.uncork()
}
