/**
 * Plain counters kept by the server. Reading them costs nothing on the hot path; /stats,
 * /metrics and the MCP tools read them when asked.
 */
export class ServerStats {
  connectionsTotal = 0
  messagesIn = 0
  messagesOut = 0
  /** Inbound frames by decoded kind/operation (bounded: only known operations are counted by name). */
  readonly inByType = new Map<string, number>()
  /** Outbound frames by type (event, response, error, pong, welcome). */
  readonly outByType = new Map<string, number>()
  readonly errorsByCode = new Map<string, number>()
  broadcasts = 0
  deliveries = 0
  rateLimited = 0
  slowConsumerCloses = 0
  heartbeatTimeouts = 0
  /** Connections closed 4001 because their token expired unrefreshed. */
  tokenExpiredCloses = 0
  rejectedAtCapacity = 0
  /** Upgrades answered 429 because their client address held max_connections_per_ip. */
  rejectedPerIp = 0
  readonly startedAt = Date.now()

  countIn(type: string): void {
    this.messagesIn++
    this.inByType.set(type, (this.inByType.get(type) ?? 0) + 1)
  }

  countOut(type: string, n = 1): void {
    this.messagesOut += n
    this.outByType.set(type, (this.outByType.get(type) ?? 0) + n)
  }

  countError(code: string): void {
    this.errorsByCode.set(code, (this.errorsByCode.get(code) ?? 0) + 1)
  }
}

/** Observes broadcasts (fan-out size, duration); set by the metrics module, absent by default. */
export interface BroadcastObserver {
  onBroadcast(channel: string, recipients: number, seconds: number): void
}
