import type { Duplex } from 'node:stream'
import { FrameBoundaries } from './frame-boundaries.js'
import { type DataListener, takeDataListener } from './library-internals.js'

/** A frame this large or larger counts against a turn's allowance; smaller ones always pass. */
export const LARGE_FRAME = 16 * 1024

/** What the gate needs of the WebSocket over a socket: whether the session stopped reading it. */
interface Paused {
  readonly isPaused: boolean
}

/**
 * Bounds the large frames a server takes in per event-loop turn. `ws` collects a frame's chunks
 * and, when the last one arrives, unmasks the whole frame and hands it on, and the session then
 * scans and parses it: a large frame costs its whole size in one callback. Twenty clients opening
 * with 1 MiB frames at once completed them in one turn and held every other client's answer for
 * their sum (issue 18, finding 8). So a chunk that completes a large frame goes on only while the
 * turn's allowance (`perTurn` bytes; the first large frame of a turn always) lasts; otherwise its
 * socket is paused and the chunk waits, in arrival order, for the next turn. Small frames — a
 * victim's ping — never wait behind them, unless their own connection holds a large one.
 */
export class InboundTurns {
  readonly #perTurn: number
  #used = 0
  #turnScheduled = false
  readonly #waiting: Gate[] = []

  constructor(perTurn = 256 * 1024) {
    this.#perTurn = perTurn
  }

  /** Puts a gate between `socket` and the `data` listener `ws` attached to it (call right after the handshake). */
  guard(socket: Duplex, ws: Paused): void {
    // When ws stops reading (a close frame, a protocol error), its removeListener takes the gate too.
    // The listener and the close handler are shared by every socket of one ws listener: a
    // connection costs its Gate, no closures (a reconnect storm makes thousands a second).
    const listeners = socket.listeners('data') as DataListener[]
    const original = listeners[0]
    const replacement = original === undefined ? undefined : gateListenerFor(original)
    if (replacement === undefined || takeDataListener(socket, replacement, listeners) === null) return
    ;(socket as Gated)[kGate] = new Gate(this, socket, ws, original as DataListener, replacement)
    socket.on('close', closeGate)
  }

  /** Whether a chunk completing a frame of `size` bytes (-1: none) may go on this turn; takes it from the allowance. */
  admit(size: number): boolean {
    if (size < LARGE_FRAME) return true
    if (this.#used > 0 && this.#used + size > this.#perTurn) return false
    this.#used += size
    this.#nextTurn()
    return true
  }

  /** A gate holds a chunk until a later turn. */
  wait(gate: Gate): void {
    this.#waiting.push(gate)
    this.#nextTurn()
  }

  #nextTurn(): void {
    if (this.#turnScheduled) return
    this.#turnScheduled = true
    // setImmediate runs after the poll phase: the sockets read in between (a victim's ping) go first.
    setImmediate(() => {
      this.#turnScheduled = false
      this.#used = 0
      while (this.#waiting.length > 0 && (this.#waiting[0] as Gate).release()) this.#waiting.shift()
      if (this.#waiting.length > 0) this.#nextTurn()
    })
  }
}

const kGate = Symbol('roomcast.gate')
type Gated = Duplex & { [kGate]?: Gate }

/** The gate's `data` listener for each ws listener it replaces (ws has one, shared by its sockets). */
const gateListeners = new WeakMap<DataListener, DataListener>()

function gateListenerFor(original: DataListener): DataListener {
  let listener = gateListeners.get(original)
  if (listener === undefined) {
    listener = function gateData(this: Duplex, chunk: Buffer): void {
      ;(this as Gated)[kGate]?.data(chunk)
    }
    gateListeners.set(original, listener)
  }
  return listener
}

function closeGate(this: Duplex): void {
  ;(this as Gated)[kGate]?.close()
}

/** One socket's gate: the chunks it holds back, in order, each with the largest frame it completes. */
class Gate {
  readonly #turns: InboundTurns
  readonly #socket: Duplex
  readonly #ws: Paused
  readonly #listener: DataListener
  /** The listener standing in for ws's on the socket: while it is there, ws still reads through the gate. */
  readonly #replacement: DataListener
  // Made with the first chunk the client sends: a silent connection (most of a reconnect storm) keeps neither.
  #bounds: FrameBoundaries | null = null
  #held: { chunk: Buffer; completes: number }[] | null = null
  #closed = false

  constructor(turns: InboundTurns, socket: Duplex, ws: Paused, listener: DataListener, replacement: DataListener) {
    this.#turns = turns
    this.#socket = socket
    this.#ws = ws
    this.#listener = listener
    this.#replacement = replacement
  }

  data(chunk: Buffer): void {
    const completes = (this.#bounds ??= new FrameBoundaries()).feed(chunk)
    const held = this.#held
    if ((held === null || held.length === 0) && this.#turns.admit(completes)) return this.#forward(chunk)
    const waiting = (this.#held ??= [])
    waiting.push({ chunk, completes })
    this.#socket.pause()
    if (waiting.length === 1) this.#turns.wait(this)
  }

  /** Forwards what the turn allows; true once nothing is held (reading resumes unless the session paused it). */
  release(): boolean {
    const held = this.#held ?? []
    while (held.length > 0) {
      const next = held[0] as { chunk: Buffer; completes: number }
      if (!this.#closed && !this.#turns.admit(next.completes)) return false
      held.shift()
      this.#forward(next.chunk)
    }
    if (!this.#closed && !this.#ws.isPaused) this.#socket.resume()
    return true
  }

  close(): void {
    this.#closed = true
    if (this.#held !== null) this.#held.length = 0
  }

  #forward(chunk: Buffer): void {
    // Once the socket closed, or ws stopped reading it, its listener must not run any more.
    if (this.#closed || !this.#socket.rawListeners('data').includes(this.#replacement)) return
    this.#listener.call(this.#socket, chunk)
  }
}
