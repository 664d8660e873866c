// Types of bench/lib/ports.mjs, for the tests' helpers.
import type { Server } from 'node:net'

export declare function candidatePort(): number
export declare function tryBind(port: number): Promise<Server | null>
export declare function freePort(): Promise<number>
